"""The benchmark's burst harness (run_local.py bench): its figures are only as good as its counting."""

import pytest

from sandbox.config import SandboxConfig
from sandbox.core import Sandbox
from sandbox.tools.bench.runner import _burst_phase


@pytest.mark.slow
def test_a_burst_from_a_separate_client_is_counted_in_full_with_the_cpu_it_cost():
    with Sandbox(SandboxConfig(port=0, web_port=None)) as sb:
        cold = _burst_phase(sb, "cold", 12)
        warm = _burst_phase(sb, "warm", 12)
        outputs = [o["Key"] for o in sb.s3.list_objects_v2(Bucket="resized-image-bucket123")["Contents"]]
    assert cold["lost"] == warm["lost"] == 0
    assert sorted(outputs) == sorted(
        f"resized-{phase}/{i:03d}.jpg" for phase in ("cold", "warm") for i in range(12)
    )
    assert cold["cold_starts"] == cold["environments"] >= 1 and cold["init_ms_median"] > 0
    assert warm["cold_starts"] < warm["environments"]  # environments from the first burst are reused
    # CPU is counted where it is spent: the sandbox's process, the environments that were running, the client
    assert warm["cpu_sandbox_s"] > 0 and warm["cpu_environments_s"] > 0 and warm["cpu_client_s"] > 0
    assert warm["images_per_s"] > 0
