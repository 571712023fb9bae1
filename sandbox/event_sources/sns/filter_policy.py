"""SNS subscription filter policies: which messages a subscription receives.

A policy is a JSON object. With ``FilterPolicyScope`` ``MessageAttributes`` (the default) its top-level
keys name message attributes; with ``MessageBody`` it is matched against the message, parsed as JSON, and
may nest objects. A leaf is an array of conditions, one of which must hold: an exact string or number,
``prefix``, ``suffix``, ``equals-ignore-case``, ``anything-but`` (values, or ``prefix``/``suffix``),
``numeric`` (``=``, ``<``, ``<=``, ``>``, ``>=`` pairs), ``exists`` and ``cidr``. Every key must match
(AND); ``$or`` holds a list of policies of which one must. An array value (``String.Array``, or an
array in the body) matches when one of its elements does. Only ``exists: false`` matches a missing key,
and a message without attributes matches no attribute policy. A ``Binary`` attribute is never matched.
AWS's rules: docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

MISSING = object()
_NUMBER = (int, float)


def matches(policy: dict | None, scope: str | None, message: str, attributes: dict | None) -> bool:
    """Does a message (its text and its attributes, ``{name: {"Type", "Value"}}``) pass ``policy``?"""
    if not policy:
        return True
    if (scope or "MessageAttributes") == "MessageBody":
        try:
            body = json.loads(message)
        except (TypeError, ValueError):
            return False  # AWS: a body that is not JSON matches no body policy
        return isinstance(body, dict) and _object_matches(policy, body)
    if not attributes:  # AWS: an empty set of attributes matches no policy, not even exists: false
        return False
    values = {name: _attribute_values(attr) for name, attr in attributes.items()}
    return _flat_matches(policy, values)


def _attribute_values(attribute: dict) -> list | object:
    """An attribute as the values a condition compares: a String is one string, a Number one number,
    a String.Array its elements; a Binary attribute takes part in no match."""
    kind, value = attribute.get("Type", "String"), attribute.get("Value")
    if kind.startswith("Binary"):
        return MISSING
    if kind.endswith(".Array"):  # String.Array (AWS's documents show Number.Array too): JSON
        try:
            parsed = json.loads(value)
        except (TypeError, ValueError):
            return MISSING
        return parsed if isinstance(parsed, list) else [parsed]
    if kind.startswith("Number"):
        try:
            return [float(value)]
        except (TypeError, ValueError):
            return MISSING
    return [value]


def _flat_matches(policy: dict, values: dict) -> bool:
    for key, conditions in policy.items():
        if key == "$or":
            if not any(_flat_matches(p, values) for p in conditions):
                return False
        elif not _leaf_matches(conditions, values.get(key, MISSING)):
            return False
    return True


def _object_matches(policy: dict, body: Any) -> bool:
    """A body policy against a JSON value: objects nest; an array matches when one element does."""
    if isinstance(body, list):
        return any(_object_matches(policy, element) for element in body)
    for key, conditions in policy.items():
        if key == "$or":
            if not any(_object_matches(p, body) for p in conditions):
                return False
            continue
        value = body.get(key, MISSING) if isinstance(body, dict) else MISSING
        if isinstance(conditions, dict):
            if value is MISSING or not isinstance(value, (dict, list)):
                if not _all_absent_allowed(conditions):
                    return False
                continue
            if not _object_matches(conditions, value):
                return False
        elif not _leaf_matches(conditions, _body_values(value)):
            return False
    return True


def _all_absent_allowed(policy: dict) -> bool:
    """A nested policy over a missing object holds only when each of its leaves asks for absence."""
    for key, conditions in policy.items():
        if key == "$or":
            if not any(_all_absent_allowed(p) for p in conditions):
                return False
        elif isinstance(conditions, dict):
            if not _all_absent_allowed(conditions):
                return False
        elif not _leaf_matches(conditions, MISSING):
            return False
    return True


def _body_values(value: Any) -> list | object:
    if value is MISSING:
        return MISSING
    if isinstance(value, list):
        return [v for v in value if not isinstance(v, (dict, list))]
    if isinstance(value, dict):
        return MISSING  # an object where the policy expects values: no condition but exists holds
    return [value]


def _leaf_matches(conditions: list, values: list | object) -> bool:
    if not isinstance(conditions, list):
        conditions = [conditions]
    return any(_condition_holds(condition, values) for condition in conditions)


def _condition_holds(condition: Any, values: list | object) -> bool:
    if isinstance(condition, dict) and "exists" in condition:  # present: a non-null value
        present = values is not MISSING and any(v is not None for v in values)
        return bool(condition["exists"]) == present
    if values is MISSING:
        return False
    return any(_value_matches(condition, value) for value in values)


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _value_matches(condition: Any, value: Any) -> bool:
    if condition is None or isinstance(condition, bool):
        return value is condition or (isinstance(value, bool) and value == condition)
    if isinstance(condition, str):
        return isinstance(value, str) and value == condition
    if _is_number(condition):
        return _is_number(value) and float(value) == float(condition)
    if not isinstance(condition, dict) or len(condition) != 1:
        return False
    ((operator, operand),) = condition.items()
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(operand)
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(operand)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(operand).lower()
    if operator == "anything-but":
        return _anything_but(operand, value)
    if operator == "numeric":
        return _is_number(value) and _numeric(operand, float(value))
    if operator == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(operand, strict=False)
        except (TypeError, ValueError):
            return False
    return False


def _anything_but(operand: Any, value: Any) -> bool:
    if isinstance(operand, dict):
        ((operator, text),) = operand.items()
        if not isinstance(value, str):
            return False
        if operator == "prefix":
            return not value.startswith(text)
        if operator == "suffix":
            return not value.endswith(text)
        if operator == "equals-ignore-case":
            texts = text if isinstance(text, list) else [text]
            return value.lower() not in {t.lower() for t in texts}
        return False
    excluded = operand if isinstance(operand, list) else [operand]
    return not any(_value_matches(e, value) for e in excluded)


def _numeric(operand: list, value: float) -> bool:
    for operator, bound in zip(operand[0::2], operand[1::2]):
        bound = float(bound)
        holds = {
            "=": value == bound,
            "<": value < bound,
            "<=": value <= bound,
            ">": value > bound,
            ">=": value >= bound,
        }.get(operator, False)
        if not holds:
            return False
    return True
