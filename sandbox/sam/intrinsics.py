"""CloudFormation's intrinsic functions and conditions, resolved as CloudFormation resolves them.

``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::If`` with
``Conditions``, ``Fn::FindInMap``, ``Fn::Base64``, ``Fn::GetAZs``, ``Fn::ImportValue``,
``Fn::ToJsonString``, ``Fn::Length`` and ``AWS::NoValue``. Resolution happens twice, as in
CloudFormation: before anything is created (``partial=True``: parameters and conditions only), and when
each resource is created, once what it refers to exists.

The full list and the two passes: docs/sam-internals.md.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.errors import ConfigError

# Intrinsic functions this module resolves (a template using another is refused before anything starts).
FUNCTIONS = {
    "Ref",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::FindInMap",
    "Fn::Base64",
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::ToJsonString",
    "Fn::Length",
}
CONDITION_FUNCTIONS = {"Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition"}
NO_VALUE = object()  # what Ref AWS::NoValue resolves to: the holder drops it
_SUB = re.compile(r"\$\{([^}]*)\}")


class TemplateError(ConfigError):
    """The template is wrong as CloudFormation would say it (a message in CloudFormation's words)."""


class Unresolved(Exception):
    """The value refers to a resource that is not created yet."""


def is_intrinsic(value) -> bool:
    return (
        isinstance(value, dict) and len(value) == 1 and next(iter(value)) in FUNCTIONS | CONDITION_FUNCTIONS
    )


def references(value) -> set[str]:
    """The logical ids a value refers to (Ref, Fn::GetAtt, and ${...} in Fn::Sub), parameters included."""
    found: set[str] = set()

    def walk(v):
        if isinstance(v, dict):
            if len(v) == 1:
                key, arg = next(iter(v.items()))
                if key == "Ref" and isinstance(arg, str):
                    found.add(arg)
                elif key == "Fn::GetAtt":
                    name = arg.split(".", 1)[0] if isinstance(arg, str) else (arg[0] if arg else None)
                    if isinstance(name, str):
                        found.add(name)
                elif key == "Fn::Sub":
                    text, variables = (
                        (arg, {}) if isinstance(arg, str) else (arg[0], arg[1] if len(arg) > 1 else {})
                    )
                    for name in _SUB.findall(text if isinstance(text, str) else ""):
                        if not name.startswith("!") and name.split(".", 1)[0] not in variables:
                            found.add(name.split(".", 1)[0])
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(value)
    return found


class Resolver:
    """``parameters``: name -> value (list parameters as lists); ``pseudo``: AWS::Region and friends;
    ``resource_value(logical_id, attribute_or_None)``: a created resource's Ref (None) or attribute, raising
    Unresolved while it does not exist and TemplateError for an attribute it does not have;
    ``exports``: name -> value of the other stacks' exported outputs."""

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, Any],
        conditions: Mapping[str, Any],
        mappings: Mapping[str, Any],
        resource_value: Callable[[str, str | None], Any],
        is_resource: Callable[[str], bool],
        exports: Callable[[], Mapping[str, Any]] = dict,
        region: str = "us-east-1",
    ):
        self.parameters = dict(parameters)
        self.pseudo = dict(pseudo)
        self.conditions = dict(conditions or {})
        self.mappings = dict(mappings or {})
        self.resource_value = resource_value
        self.is_resource = is_resource
        self.exports = exports
        self.region = region
        self._evaluated: dict[str, bool] = {}

    # -- conditions ----------------------------------------------------------------------------------
    def condition(self, name: str, _seen: tuple = ()) -> bool:
        if name in self._evaluated:
            return self._evaluated[name]
        if name not in self.conditions:
            raise TemplateError(
                f"Template format error: Unresolved dependencies [{name}]. Cannot reference "
                f"resources in the Conditions block of the template"
            )
        if name in _seen:
            raise TemplateError(
                f"Template error: circular condition dependency: {' -> '.join(_seen + (name,))}"
            )
        value = self._truth(self.conditions[name], _seen + (name,))
        self._evaluated[name] = value
        return value

    def _truth(self, expression, seen: tuple) -> bool:
        if isinstance(expression, bool):
            return expression
        if not isinstance(expression, dict) or len(expression) != 1:
            raise TemplateError(
                f"Template error: a condition must be a condition function; got {expression!r}"
            )
        key, arg = next(iter(expression.items()))
        if key == "Condition":
            return self.condition(arg, seen)
        if key == "Fn::Equals":
            left, right = (self._value_for_condition(x) for x in arg)
            return str(left) == str(right) if not isinstance(left, list) else left == right
        if key == "Fn::Not":
            return not self._truth(arg[0], seen)
        if key == "Fn::And":
            return all(self._truth(x, seen) for x in arg)
        if key == "Fn::Or":
            return any(self._truth(x, seen) for x in arg)
        raise TemplateError(f"Template error: {key} is not a condition function")

    def _value_for_condition(self, value):
        try:
            return self.resolve(value)
        except Unresolved:
            raise TemplateError(
                "Template format error: Unresolved dependencies. Cannot reference resources "
                "in the Conditions block of the template"
            ) from None

    # -- values --------------------------------------------------------------------------------------
    def resolve(self, value, partial: bool = False):
        """The value with every intrinsic function resolved. ``partial``: references to resources not
        created yet stay as written (the rest is resolved); otherwise they raise Unresolved."""
        if isinstance(value, dict):
            if len(value) == 1:
                key, arg = next(iter(value.items()))
                if key in FUNCTIONS:
                    try:
                        return self._function(key, arg, partial)
                    except Unresolved:
                        if not partial:
                            raise
                        return {key: self.resolve(arg, partial)}
            out = {}
            for k, v in value.items():
                resolved = self.resolve(v, partial)
                if resolved is not NO_VALUE:
                    out[str(k)] = resolved
            return out
        if isinstance(value, list):
            return [r for r in (self.resolve(v, partial) for v in value) if r is not NO_VALUE]
        if isinstance(value, str):
            return str(value)  # cfn-lint's decoder gives str subclasses that carry line numbers
        return value

    def _strict(self, value):
        resolved = self.resolve(value)
        return resolved

    def _function(self, key: str, arg, partial: bool):
        if key == "Ref":
            return self._ref(arg)
        if key == "Fn::GetAtt":
            if isinstance(arg, str):
                arg = arg.split(".", 1)
            name, attribute = self._strict(arg[0]), self._strict(arg[1])
            if not self.is_resource(name):
                raise TemplateError(
                    f"Template format error: Unresolved resource dependencies [{name}] in the "
                    f"Resources block of the template"
                )
            return self.resource_value(name, attribute)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(name) else when_false, partial)
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Join":
            delimiter, items = arg
            items = self._strict(items)
            if not isinstance(items, list):
                raise TemplateError(
                    "Template error: every Fn::Join object requires two parameters, (1) a string "
                    "delimiter and (2) a list of strings to be joined"
                )
            return str(self._strict(delimiter)).join(_text(i) for i in items)
        if key == "Fn::Select":
            index, items = self._strict(arg[0]), self._strict(arg[1])
            try:
                return items[int(index)]
            except (IndexError, ValueError, TypeError):
                raise TemplateError(
                    f"Template error: Fn::Select cannot select nonexistent value at index {index}"
                ) from None
        if key == "Fn::Split":
            delimiter, text = self._strict(arg[0]), self._strict(arg[1])
            return str(text).split(str(delimiter))
        if key == "Fn::FindInMap":
            name, top, second = (self._strict(x) for x in arg[:3])
            try:
                return self.resolve(self.mappings[name][top][second])
            except (KeyError, TypeError):
                raise TemplateError(
                    f"Template error: Unable to get mapping for {name}::{top}::{second}"
                ) from None
        if key == "Fn::Base64":
            return base64.b64encode(str(self._strict(arg)).encode()).decode()
        if key == "Fn::GetAZs":
            region = self._strict(arg) or self.region
            return [f"{region}{zone}" for zone in "abcdef"]
        if key == "Fn::ImportValue":
            name = self._strict(arg)
            exports = self.exports()
            if name not in exports:
                raise TemplateError(f"No export named {name} found.")
            return exports[name]
        if key == "Fn::ToJsonString":
            return json.dumps(self._strict(arg), separators=(",", ":"))
        if key == "Fn::Length":
            return len(self._strict(arg))
        raise TemplateError(f"Template error: {key} is not supported")

    def _ref(self, name):
        name = str(name)
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if self.is_resource(name):
            return self.resource_value(name, None)
        raise TemplateError(
            f"Template format error: Unresolved resource dependencies [{name}] in the Resources "
            f"block of the template"
        )

    def _sub(self, arg) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1] if len(arg) > 1 else {})
        values = {k: self._strict(v) for k, v in (variables or {}).items()}

        def replace(match) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return _text(values[name])
            if "." in name and name.split(".", 1)[0] not in self.pseudo:
                return _text(self._function("Fn::GetAtt", name.split(".", 1), False))
            return _text(self._ref(name))

        return _SUB.sub(replace, str(text))


def _text(value) -> str:
    if value is NO_VALUE:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TemplateError(
        f"Template error: a value that is not a string ({value!r}) cannot be joined or substituted"
    )
