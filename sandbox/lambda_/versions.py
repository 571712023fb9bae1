"""Versions and aliases: which frozen copy of a function an invocation runs.

``publish-version`` freezes ``$LATEST`` (its code folder copied, its configuration kept) as version 1, 2, ...;
each version has its own execution environments, so its own cold starts. A qualifier names ``$LATEST``, a
version or an alias; an alias names one version and may route a weight of its traffic (0 to 1) to a second
one (``AdditionalVersionWeights``), chosen afresh for each invocation. The checks below answer with
Lambda's error codes and messages. How it compares with AWS: docs/versions.md.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from sandbox.lambda_.validation import LambdaApiError

LATEST = "$LATEST"


@dataclass
class Alias:
    """One alias of a function, as ``get-alias`` describes it."""

    name: str
    function_version: str  # "$LATEST" or a version number
    weights: dict[str, float] = field(default_factory=dict)  # RoutingConfig.AdditionalVersionWeights
    description: str = ""
    revision_id: str = ""

    def choose(self, draw=random.random) -> str:
        """The version one invocation runs: the additional version with its weight's probability."""
        roll = draw()
        for version, weight in self.weights.items():
            if roll < weight:
                return version
            roll -= weight
        return self.function_version

    def describe(self) -> str:
        """``version 1, 20 % to version 2``."""
        routed = "".join(f", {w * 100:g} % to version {v}" for v, w in self.weights.items())
        return f"version {self.function_version}{routed}"

    def versions(self) -> set[str]:
        return {self.function_version, *self.weights}

    @classmethod
    def from_api(cls, data: dict) -> Alias:
        """From Lambda's AliasConfiguration (the answer of create-, update- and get-alias)."""
        routing = data.get("RoutingConfig") or {}
        return cls(
            name=data["Name"],
            function_version=str(data.get("FunctionVersion") or LATEST),
            weights={str(k): float(v) for k, v in (routing.get("AdditionalVersionWeights") or {}).items()},
            description=data.get("Description") or "",
            revision_id=data.get("RevisionId") or "",
        )


def split_reference(identifier: str, qualifier: str | None = None) -> tuple[str, str | None]:
    """A function named by name, ``name:qualifier``, partial or full ARN (with or without a qualifier),
    and a separate ``Qualifier``: ``(name, qualifier or None)``. Two qualifiers that differ are refused, as
    Lambda refuses them."""
    identifier = unquote(identifier)
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        name, derived = (parts[6] if len(parts) > 6 else identifier), (parts[7] if len(parts) > 7 else None)
    elif ":function:" in identifier:
        rest = identifier.split(":function:", 1)[1].split(":")
        name, derived = rest[0], (rest[1] if len(rest) > 1 else None)
    else:
        name, _, derived = identifier.partition(":")
        derived = derived or None
    qualifier = unquote(qualifier) if qualifier else None
    if derived and qualifier and derived != qualifier:
        raise LambdaApiError(
            400,
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        )
    return name, derived or qualifier or None


def reference_from(identifier: str) -> str:
    """``name`` or ``name:qualifier``, as the Lambda service runs it, from any way of naming a function."""
    try:
        name, qualifier = split_reference(identifier)
    except LambdaApiError:
        return identifier
    return f"{name}:{qualifier}" if qualifier else name


def is_version(qualifier: str | None) -> bool:
    return bool(qualifier) and qualifier.isdigit()


def not_found(arn: str) -> LambdaApiError:
    return LambdaApiError(404, "ResourceNotFoundException", f"Function not found: {arn}")


def routing_problem(function_version: str, weights: dict, version_exists, qualified_arn) -> None:
    """Lambda's checks of an alias's RoutingConfig (raises LambdaApiError): one additional version, a
    published one other than the alias's own, weights from 0 to 1, and no routing from $LATEST."""
    if not weights:
        return
    if len(weights) > 1:
        raise LambdaApiError(
            400,
            "InvalidParameterValueException",
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
        )
    ((version, weight),) = weights.items()
    if not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise LambdaApiError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{{{version}={weight}}}' at "
            "'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy "
            "constraint: [Member must have value less than or equal to 1.0, Member must have value greater "
            "than or equal to 0.0]",
        )
    if str(version) == str(function_version):
        raise LambdaApiError(
            400,
            "InvalidParameterValueException",
            f"Invalid function version {function_version}. Function version {function_version} is already "
            "included in routing configuration.",
        )
    if function_version == LATEST:
        raise LambdaApiError(
            400,
            "InvalidParameterValueException",
            "$LATEST is not supported for an alias pointing to more than 1 version",
        )
    if not is_version(str(version)) or not version_exists(str(version)):
        raise not_found(qualified_arn(str(version)))


def alias_name_problem(name: str) -> None:
    """An alias is not named like a version (a number) or $LATEST."""
    if not name or name.isdigit() or name == LATEST:
        raise LambdaApiError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member "
            "must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        )


def freeze_code(source: Path, target: Path) -> Path:
    """A copy of the code folder as it is now, which later changes to $LATEST leave alone."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        source, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".git")
    )
    return target
