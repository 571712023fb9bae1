"""A function URL kept in the state directory answers after a restart, at the same URL (its own module: one
sandbox runs per process, and test_function_urls.py keeps one running for its module)."""

from __future__ import annotations

import json

import pytest

from helpers.function_urls import FUNCTION, call, url_id
from helpers.paths import HANDLERS


@pytest.mark.slow
def test_a_url_outlives_a_restart_with_a_state_directory(tmp_path):
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox

    def started():
        return Sandbox(
            SandboxConfig(port=0, web_port=None, state_dir=str(tmp_path / "state")),
            FunctionConfiguration(code_dir=HANDLERS / "api"),
        ).start()

    first = started()
    try:
        created = first.client("lambda").create_function_url_config(FunctionName=FUNCTION, AuthType="NONE")
    finally:
        first.stop()
    second = started()
    try:
        kept = second.client("lambda").get_function_url_config(FunctionName=FUNCTION)
        assert url_id(kept) == url_id(created) and kept["CreationTime"] == created["CreationTime"]
        status, _, body = call(second, kept, "/again")
        assert status == 200 and json.loads(body)["rawPath"] == "/again"
    finally:
        second.stop()
