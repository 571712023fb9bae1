"""Shared fixtures: a real sandbox (moto over HTTP on a free port), the project's paths, the corpus."""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REALWORLD = PROJECT_ROOT.parent / "shared" / "testdata" / "realworld"
HANDLERS = Path(__file__).resolve().parent / "handlers"
SAMPLES = PROJECT_ROOT / "sample_images"
TEST_OUTPUT = PROJECT_ROOT / "test-output"

if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def realworld() -> Path:
    if not REALWORLD.is_dir():
        pytest.skip(f"real-world corpus not present at {REALWORLD}")
    return REALWORLD


@pytest.fixture(scope="session")
def test_output() -> Path:
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT


def start_sandbox(code_dir: Path | None = None, **function_options):
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox

    function = FunctionConfiguration(code_dir=code_dir or PROJECT_ROOT / "handler", **function_options)
    return Sandbox(SandboxConfig(port=0, web_port=None), function).start()


@pytest.fixture(scope="module")
def sandbox():
    """A real sandbox with the project's handler: moto over HTTP on a free port, real workers."""
    sb = start_sandbox()
    yield sb
    sb.stop()


@pytest.fixture
def aws_env(sandbox):
    """Environment for the real AWS CLI pointed at the sandbox."""
    env = dict(os.environ)
    env.update(sandbox.client_environment())
    env.pop("AWS_PROFILE", None)
    return env
