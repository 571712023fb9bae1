"""EventBridge's event patterns: which events a rule's ``EventPattern`` matches.

The event is read as EventBridge reads it: flattened to its leaf values by path, an array standing for
each of its elements (arrays of objects flattened too, so each field of a pattern may match a different
element). Each field of the pattern must match at least one value at its path; ``$or`` takes any of its
patterns. A field's matchers: an exact value (string, number compared as a number, true/false, null),
``prefix``, ``suffix``, ``equals-ignore-case``, ``wildcard``, ``anything-but`` (a value, a list, or a
prefix/suffix/equals-ignore-case/wildcard inside), ``numeric`` (comparisons, ranges), ``exists``
(true/false) and ``cidr``. The rules AWS documents:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
"""

from __future__ import annotations

import ipaddress
import json

from sandbox.patterns import wildcard_match

_NUMERIC_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_MISSING = object()


class InvalidEventPattern(ValueError):
    """A pattern EventBridge refuses (InvalidEventPatternException)."""


def load(pattern) -> dict:
    """A pattern from its JSON text (or as given), checked as PutRule checks it."""
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except ValueError as exc:
            raise InvalidEventPattern(f"Event pattern is not valid JSON: {exc}") from None
    if not isinstance(pattern, dict):
        raise InvalidEventPattern("Event pattern must be a JSON object.")
    _check(pattern)
    return pattern


def _check(node: dict) -> None:
    for key, value in node.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                raise InvalidEventPattern("$or takes an array of at least two patterns.")
            for sub in value:
                _check(sub)
        elif isinstance(value, dict):
            _check(value)
        elif isinstance(value, list):
            for matcher in value:
                if isinstance(matcher, dict):
                    _check_matcher(matcher)
                elif isinstance(matcher, list):
                    raise InvalidEventPattern(
                        f"Match value of {key} must be a string, number, null or object."
                    )
        else:
            raise InvalidEventPattern(f"Match value of {key} must be an array or an object.")


def _check_matcher(matcher: dict) -> None:
    if len(matcher) != 1:
        raise InvalidEventPattern(f"A match expression takes exactly one operator: {json.dumps(matcher)}")
    ((operator, operand),) = matcher.items()
    if operator == "numeric":
        if not isinstance(operand, list) or not operand or len(operand) % 2:
            raise InvalidEventPattern("numeric takes operator and number pairs.")
        for op, number in zip(operand[::2], operand[1::2], strict=True):
            if op not in _NUMERIC_OPS or isinstance(number, bool) or not isinstance(number, int | float):
                raise InvalidEventPattern(f"numeric: unrecognized comparison {op!r} {number!r}.")
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise InvalidEventPattern("exists takes true or false.")
    elif operator == "cidr":
        try:
            ipaddress.ip_network(operand, strict=False)
        except (TypeError, ValueError):
            raise InvalidEventPattern(f"cidr: not an IP prefix: {operand!r}.") from None
    elif operator in ("prefix", "suffix"):
        if isinstance(operand, dict):
            if set(operand) != {"equals-ignore-case"} or not isinstance(operand["equals-ignore-case"], str):
                raise InvalidEventPattern(f"{operator} takes a string or equals-ignore-case.")
        elif not isinstance(operand, str):
            raise InvalidEventPattern(f"{operator} takes a string.")
    elif operator in ("equals-ignore-case", "wildcard"):
        if not isinstance(operand, str):
            raise InvalidEventPattern(f"{operator} takes a string.")
    elif operator == "anything-but":
        if isinstance(operand, dict):
            if len(operand) != 1 or next(iter(operand)) not in (
                "prefix",
                "suffix",
                "equals-ignore-case",
                "wildcard",
            ):
                raise InvalidEventPattern(
                    "anything-but takes a value, a list, prefix, suffix, equals-ignore-case or wildcard."
                )
            _check_matcher(operand)
    else:
        raise InvalidEventPattern(f"Unrecognized match type {operator}.")


def flatten(event) -> dict[tuple, list]:
    """``{path: [leaf values]}``: arrays give each element to the same path."""
    flat: dict[tuple, list] = {}

    def walk(value, path):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, (*path, key))
        elif isinstance(value, list):
            for inner in value:
                walk(inner, path)
        else:
            flat.setdefault(path, []).append(value)

    walk(event, ())
    return flat


def matches(pattern, event: dict) -> bool:
    """Whether ``event`` (a dict) matches ``pattern`` (a dict or its JSON text)."""
    pattern = load(pattern) if isinstance(pattern, str) else pattern
    return _node(pattern, flatten(event), ())


def _node(pattern: dict, flat: dict, prefix: tuple) -> bool:
    for key, value in pattern.items():
        if key == "$or":
            if not any(_node(sub, flat, prefix) for sub in value):
                return False
        elif isinstance(value, dict):
            if not _node(value, flat, (*prefix, key)):
                return False
        elif not _field(value, flat.get((*prefix, key), _MISSING)):
            return False
    return True


def _field(matchers: list, values) -> bool:
    for matcher in matchers:
        if isinstance(matcher, dict) and "exists" in matcher:
            if matcher["exists"] == (values is not _MISSING):
                return True
            continue
        if values is _MISSING:
            continue
        if any(_value(matcher, value) for value in values):
            return True
    return False


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(expected, value) -> bool:
    if _is_number(expected) or _is_number(value):
        return _is_number(expected) and _is_number(value) and float(expected) == float(value)
    if isinstance(expected, bool) or isinstance(value, bool):
        return expected is value
    return expected == value


def _text_test(operand, value, test) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(operand, dict):  # {"equals-ignore-case": "..."} inside prefix/suffix
        return test(value.casefold(), operand["equals-ignore-case"].casefold())
    return test(value, operand)


def _value(matcher, value) -> bool:
    if not isinstance(matcher, dict):
        return _equal(matcher, value)
    ((operator, operand),) = matcher.items()
    if operator == "prefix":
        return _text_test(operand, value, str.startswith)
    if operator == "suffix":
        return _text_test(operand, value, str.endswith)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == operand.casefold()
    if operator == "wildcard":
        return isinstance(value, str) and wildcard_match(value, operand)
    if operator == "numeric":
        return _is_number(value) and all(
            _NUMERIC_OPS[op](value, number) for op, number in zip(operand[::2], operand[1::2], strict=True)
        )
    if operator == "cidr":
        try:
            return isinstance(value, str) and ipaddress.ip_address(value) in ipaddress.ip_network(
                operand, strict=False
            )
        except ValueError:
            return False
    if operator == "anything-but":
        if isinstance(operand, dict):
            return isinstance(value, str) and not _value(operand, value)
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(_equal(item, value) for item in excluded)
    return False
