"""Node.js and custom-runtime functions across a sandbox's life: kept across a restart (with their bootstrap
still executable), and tuned like any other function (the CPU share holds the Node process)."""

import shutil

import pytest

from helpers.paths import HANDLERS
from helpers.runtimes import BOOTSTRAP, conformance_files, create_function, invoke_function, needs_node
from helpers.sandboxes import start_sandbox

pytestmark = pytest.mark.slow


@needs_node
@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("sh") is None, reason="needs sh and curl")
def test_node_and_custom_runtime_functions_survive_a_restart_with_their_bootstrap_executable(tmp_path):
    from helpers.paths import PROJECT_ROOT
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox

    def started():
        return Sandbox(
            SandboxConfig(port=0, web_port=None, state_dir=str(tmp_path), full_cpu=True),
            FunctionConfiguration(code_dir=PROJECT_ROOT / "handler"),
        ).start()

    sandbox = started()
    try:
        create_function(sandbox, "KeptNode", "nodejs20.x", "index.handler", conformance_files("index.mjs"))
        create_function(
            sandbox,
            "KeptCustom",
            "provided.al2",
            "kept.handler",
            {"bootstrap": BOOTSTRAP},
            {"bootstrap": 0o755},
        )
    finally:
        sandbox.stop()
    sandbox = started()
    try:
        assert invoke_function(sandbox, "KeptNode", {"action": "echo", "value": 1})[1]["value"] == 1
        assert invoke_function(sandbox, "KeptCustom", {"n": 2})[1] == {
            "echo": {"n": 2},
            "handler": "kept.handler",
        }
    finally:
        sandbox.stop()


@pytest.mark.serial  # durations under each size's CPU share: alone on the cores
@needs_node
def test_tune_measures_the_node_process_under_each_memory_sizes_cpu_share():
    from sandbox.tools import power_tuning

    sandbox = start_sandbox(
        HANDLERS / "conformance", runtime="nodejs20.x", handler="index.handler", timeout=30
    )
    try:
        result = power_tuning.tune(
            sandbox.endpoint_url,
            sandbox.function.function_name,
            {"action": "spin", "cpu_ms": 40},
            [128, 1769],
            runs=3,
        )
    finally:
        sandbox.stop()
    small, large = result.sizes
    assert small.succeeded and large.succeeded and small.cold.init_ms is not None
    assert small.duration_p50_ms > 3 * large.duration_p50_ms  # 7.2 % of a vCPU against one vCPU
    assert result.fastest is large
