"""Shared fixtures: a real sandbox (moto over HTTP on a free port), the test output folder, the corpus.
The code behind them, and the project's paths, are in tests/helpers/."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from helpers.doc_commands import RunningSandboxes
from helpers.paths import REALWORLD, TEST_OUTPUT
from helpers.sandboxes import start_sandbox
from helpers.scheduling import longest_files_first
from sandbox.config import GC_THRESHOLDS

gc.set_threshold(*GC_THRESHOLDS)  # as run_local.py's process: the tests' sandboxes run in this one


def pytest_collection_modifyitems(items):
    """Whole files, the longest first, so parallel workers finish together (helpers/scheduling.py)."""
    longest_files_first(items)


@pytest.fixture(scope="session")
def realworld() -> Path:
    if not REALWORLD.is_dir():
        pytest.skip(f"real-world corpus not present at {REALWORLD}")
    return REALWORLD


@pytest.fixture(scope="session")
def test_output() -> Path:
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT


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


@pytest.fixture(scope="module")
def run_locals():
    """`run_local.py` (the guide's) and `run_local.py --example NAME`, as a user starts them, each started
    when a test of the module first needs it and shared by the module's tests (tests/helpers/
    doc_commands.py)."""
    sandboxes = RunningSandboxes()
    yield sandboxes
    sandboxes.close()


def pytest_unconfigure(config):
    """Python's last collection at exit would walk everything this process loaded (moto's and botocore's
    models, its sandboxes' state), ~0.5 s or more: the session is over, so they are frozen and it ends at
    once (as run_local.py does)."""
    gc.freeze()
