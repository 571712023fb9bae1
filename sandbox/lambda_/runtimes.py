"""Which process an execution environment runs, by the function's runtime.

``python3.x``: the sandbox's bootstrap.py on this interpreter (or awslambdaric); ``nodejs18.x`` to
``nodejs22.x``: node_bootstrap.mjs on this machine's ``node`` (the AWS SDK v3 from the function's
node_modules or from ``SANDBOX_NODE_RUNTIME_MODULES``; ``SANDBOX_NODE_RUNTIME_CLIENT`` runs AWS's own
client); ``provided.al2023`` / ``provided.al2``: the code's (or a layer's) executable ``bootstrap``.

Each runtime and where it differs from AWS: docs/execution-environment.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

NODE_BOOTSTRAP = Path(__file__).resolve().parent / "node_bootstrap.mjs"
NODE_RUNTIMES = {"nodejs18.x": 18, "nodejs20.x": 20, "nodejs22.x": 22}
PROVIDED_RUNTIMES = ("provided.al2023", "provided.al2")
# What INIT_START names as the runtime version (AWS's form: "nodejs:22.v48", "provided:al2023.v95").
_RUNTIME_VERSIONS = {
    "nodejs18.x": "nodejs:18.v60",
    "nodejs20.x": "nodejs:20.v51",
    "nodejs22.x": "nodejs:22.v48",
    "provided.al2023": "provided:al2023.v95",
    "provided.al2": "provided:al2.v120",
}
NODE_RUNTIME_MODULES_DEFAULT = Path.home() / ".cache" / "lambda-sandbox" / "nodejs" / "node_modules"


class InvalidEntrypoint(Exception):
    """The environment's process cannot be started (AWS: Runtime.InvalidEntrypoint)."""


def is_node(runtime: str) -> bool:
    return runtime in NODE_RUNTIMES


def is_provided(runtime: str) -> bool:
    return runtime in PROVIDED_RUNTIMES


def node_binary() -> str | None:
    return os.environ.get("SANDBOX_NODE") or shutil.which("node")


@lru_cache(maxsize=4)
def _node_version(binary: str) -> str | None:
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def local_node_version() -> str | None:
    """``v20.20.2``: the Node.js that runs nodejs functions here, or None without one."""
    binary = node_binary()
    return _node_version(binary) if binary else None


def runtime_version(runtime: str, python_version: str) -> str:
    return _RUNTIME_VERSIONS.get(runtime, python_version)


def local_runner(runtime: str, python_version: str) -> str:
    """How this machine runs ``runtime``, for the banner: AWS runs the runtime's own version."""
    if is_node(runtime):
        version = local_node_version()
        if version is None:
            return "no node found: install Node.js to run it"
        major = version.lstrip("v").split(".")[0]
        note = "" if major == str(NODE_RUNTIMES[runtime]) else f"; AWS runs Node {NODE_RUNTIMES[runtime]}"
        return f"run by this Node {version}{note}"
    if is_provided(runtime):
        return "its own bootstrap, run on this machine"
    return f"run by this Python {python_version}"


def node_path(function) -> str:
    """NODE_PATH as AWS sets it (/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:
    /var/runtime/node_modules:/var/runtime:/var/task), with the layers' folders and the task root."""
    major = NODE_RUNTIMES.get(function.runtime, 22)
    # AWS unpacks the layers into one /opt, a later layer over an earlier one: here a later layer comes first.
    layers = [Path(layer) / "nodejs" for layer in reversed(function.layers)]
    parts = [str(d / f"node{major}" / "node_modules") for d in layers]
    parts += [str(d / "node_modules") for d in layers]
    runtime_modules = Path(os.environ.get("SANDBOX_NODE_RUNTIME_MODULES") or NODE_RUNTIME_MODULES_DEFAULT)
    # /var/runtime itself holds only AWS's runtime client; the sandbox's has nothing to import: left out.
    parts += [str(runtime_modules), str(Path(function.code_dir).resolve())]
    return os.pathsep.join(parts)


def environment_for(function) -> dict[str, str]:
    """What the runtime adds to the environment's variables."""
    if is_node(function.runtime):
        return {"NODE_PATH": node_path(function)}
    return {}


def command_for(function, default: list[str]) -> tuple[list[str], bool | None]:
    """The environment's command, and whether it writes the sandbox's end-of-invocation markers (None:
    the Python runtime's ``default`` command, whose client decides).
    Raises InvalidEntrypoint (with AWS's wording) when it cannot be started."""
    if is_node(function.runtime):
        binary = node_binary()
        if binary is None:
            raise InvalidEntrypoint(
                f"{function.runtime} needs Node.js: no `node` on PATH (install Node.js, "
                f"or set SANDBOX_NODE to its path)"
            )
        aws_client = os.environ.get("SANDBOX_NODE_RUNTIME_CLIENT")
        if aws_client:  # AWS's own aws-lambda-ric (its bin/index.mjs): it writes no markers
            return [binary, aws_client, function.handler], False
        return [binary, str(NODE_BOOTSTRAP)], True
    if is_provided(function.runtime):
        candidates = [Path(folder) / "bootstrap" for folder in (function.code_dir, *function.layers)]
        for bootstrap in candidates:
            if bootstrap.is_file():
                if not os.access(bootstrap, os.X_OK):
                    raise InvalidEntrypoint(f"fork/exec {bootstrap}: permission denied")
                return [str(bootstrap.resolve())], False
        raise InvalidEntrypoint("Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]")
    if not function.runtime.startswith("python3"):
        # AWS runs Java, .NET and Ruby too; the sandbox keeps such a function but cannot start it.
        raise InvalidEntrypoint(
            f"The sandbox runs python3.x, {', '.join(NODE_RUNTIMES)} and "
            f"{', '.join(PROVIDED_RUNTIMES)} functions, not {function.runtime}"
        )
    return default, None
