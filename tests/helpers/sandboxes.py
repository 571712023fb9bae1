"""Starting real sandboxes in the test process: moto over HTTP on a free port, real workers."""

from __future__ import annotations

import socket
from pathlib import Path

from helpers.paths import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(code_dir: Path | None = None, **function_options):
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox

    function = FunctionConfiguration(code_dir=code_dir or PROJECT_ROOT / "handler", **function_options)
    return Sandbox(SandboxConfig(port=0, web_port=None), function).start()
