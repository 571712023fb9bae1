"""What deploy or destroy did: each step's outcome and every API call it made (in a dry run: would make)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


class Blob:
    """Bytes shown in a dry run as their file name and size instead of their content."""

    def __init__(self, data: bytes, label: str):
        self.data, self.label = data, label

    def __repr__(self) -> str:
        return f"<{self.label}, {human_size(len(self.data))}>"


def human_size(n: int) -> str:
    return (
        f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} B"
    )


def shorten(value, limit: int = 90) -> str:
    """A parameter's value on one line of at most ``limit`` characters; blobs as their name and size."""
    if isinstance(value, Blob):
        return repr(value)
    if isinstance(value, dict):
        value = {k: (repr(v) if isinstance(v, Blob) else v) for k, v in value.items()}
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unwrap_blobs(value):
    """The parameters as boto3 takes them: every Blob replaced by its bytes."""
    if isinstance(value, Blob):
        return value.data
    if isinstance(value, dict):
        return {k: unwrap_blobs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_blobs(v) for v in value]
    return value


def operation_name(method: str) -> str:
    """boto3's method name -> AWS's operation name: ``create_function`` -> ``CreateFunction``."""
    return "".join(word.capitalize() for word in method.split("_"))


@dataclass(frozen=True)
class Call:
    """One API call deploy made (or, in a dry run, would make)."""

    service: str
    operation: str  # AWS's name, e.g. CreateFunction
    params: dict

    def describe(self) -> str:
        parts = [f"{k}={shorten(v)}" for k, v in self.params.items()]
        return f"{self.service} {self.operation} " + " ".join(parts)


@dataclass
class StepResult:
    number: int
    name: str
    outcome: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class DeployReport:
    """What deploy or destroy did, step by step, and every call it made (dry run: would make)."""

    action: str  # "deploy" | "destroy"
    target: str
    region: str
    account: str | None
    dry_run: bool
    steps: list[StepResult] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    role_arn: str | None = None
    function_arn: str | None = None
    layer_version_arn: str | None = None

    def step(self, number: int) -> StepResult:
        return next(s for s in self.steps if s.number == number)

    def operations(self, service: str | None = None) -> list[str]:
        return [c.operation for c in self.calls if service is None or c.service == service]

    def add_step(self, number: int, name: str) -> StepResult:
        result = StepResult(number, name)
        self.steps.append(result)
        return result

    def record(self, call: Call) -> None:
        self.calls.append(call)

    def withdraw(self, call: Call) -> None:
        """Forget a call AWS refused in a way the caller expected (and retries or works around): the
        report lists what was done. The newest record of this very call goes (an equal one made before
        stays)."""
        index = max(i for i, made in enumerate(self.calls) if made is call)
        del self.calls[index]


DestroyReport = DeployReport
