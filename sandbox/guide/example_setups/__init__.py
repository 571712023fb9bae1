"""Examples a class can follow: ``examples/<name>/`` holds a small function (deployable to AWS unchanged,
like ``handler/``) and its README; ``run_local.py --example <name>`` (or ``--example all``) sets it up in
the sandbox that starts, through the same AWS APIs the README's commands use.

Adding one: a module here with ``EXAMPLE = Example(name, summary, setup)``, named in ``_MODULES``.
``setup(sandbox)`` creates what the example needs and returns the lines the banner prints.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandbox.config import PROJECT_ROOT
from sandbox.errors import ConfigError
from sandbox.lambda_.packaging import function_zip_bytes
from sandbox.lambda_.packaging.cache import cached_zip, folders_manifest

EXAMPLES_DIR = PROJECT_ROOT / "examples"
_MODULES = (
    "api",
    "eventbridge_patterns",
    "function_url",
    "node_resize",
    "queue",
    "response_streaming",
    "schedule",
    "sns_fanout",
    "stream",
    "versions",
)


@dataclass(frozen=True)
class Example:
    name: str
    summary: str
    setup: Callable[[object], list[str]]


def available() -> dict[str, Example]:
    found = {}
    for module in _MODULES:
        example = importlib.import_module(f"{__name__}.{module}").EXAMPLE
        found[example.name] = example
    return found


def names() -> list[str]:
    return sorted(available()) + ["all"]


def set_up(sandbox, requested: list[str]) -> list[str]:
    """Set up the requested examples (``all`` for every one); the banner lines they return."""
    examples = available()
    chosen = sorted(examples) if "all" in requested else list(dict.fromkeys(requested))
    unknown = [n for n in chosen if n not in examples]
    if unknown:
        raise ConfigError(f"No example named {', '.join(unknown)}; choose from {', '.join(names())}.")
    lines = []
    for name in chosen:
        try:
            setup_lines = examples[name].setup(sandbox)
        except ConfigError as exc:  # what this machine lacks: fatal when asked for by name, noted for "all"
            if name in requested or not getattr(exc, "skippable", False):
                raise
            setup_lines = [f"not set up: {exc}"]
        lines += [f"example {name:<9}: {examples[name].summary}"] + [f"  {line}" for line in setup_lines]
    return lines


_LEFT_OUT = ("__pycache__", "*.md", "*.pyc")


def package(*folders: Path) -> bytes:
    """A function package holding these folders' files at its root (later folders win), zipped as
    ``run_local.py package`` zips a function. Built once for the same files (paths, sizes, times, modes):
    a start with node-resize's 3,500 files of node_modules reuses the zip of the previous start."""
    return cached_zip(folders_manifest(folders, _LEFT_OUT), lambda: _zipped(folders))


def _zipped(folders) -> bytes:
    with tempfile.TemporaryDirectory() as staging:
        for folder in folders:
            shutil.copytree(folder, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*_LEFT_OUT))
        return function_zip_bytes(staging)


def create_function(sandbox, name: str, package: bytes, handler: str, **options) -> str:
    """create-function through the Lambda API, with the sandbox's role; returns the function's ARN."""
    lam = sandbox.shared_client("lambda")
    response = lam.create_function(
        FunctionName=name,
        Runtime=sandbox.function.runtime,
        Role=sandbox.function.role_arn,
        Handler=handler,
        Code={"ZipFile": package},
        **options,
    )
    return response["FunctionArn"]


def allow_invoke(sandbox, function: str, statement_id: str, principal: str, source_arn: str) -> None:
    """add-permission: the resource-based policy statement that lets ``principal`` (a service, from
    ``source_arn``) invoke ``function``, as on AWS."""
    sandbox.shared_client("lambda").add_permission(
        FunctionName=function,
        StatementId=statement_id,
        Action="lambda:InvokeFunction",
        Principal=principal,
        SourceArn=source_arn,
    )


def allow_public_url(sandbox, function: str) -> None:
    """add-permission for a function URL with auth NONE: on AWS it answers only with this statement (the
    sandbox checks none)."""
    sandbox.shared_client("lambda").add_permission(
        FunctionName=function,
        StatementId="public-url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
