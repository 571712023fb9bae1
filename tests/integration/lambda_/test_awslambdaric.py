"""Conformance: AWS's own runtime client (awslambdaric) against the sandbox's Runtime API gives the
same results and the same error payloads as the sandbox's bootstrap."""

import sys

import pytest

from helpers.paths import HANDLERS

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="awslambdaric runs on Linux"),
    pytest.mark.slow,
]
awslambdaric = pytest.importorskip("awslambdaric")

CASES = [{"action": "ok"}, {"action": "raise"}, {"action": "multiline"}, {"action": "unserializable"}]


def _run(runtime_client):
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox

    config = SandboxConfig(port=0, web_port=None, runtime_client=runtime_client)
    with Sandbox(
        config, FunctionConfiguration(code_dir=HANDLERS / "faults", maximum_retry_attempts=0, timeout=2)
    ) as sb:
        records = [sb.invoke(event) for event in CASES]
        timeout = sb.invoke({"action": "sleep", "seconds": 5})
        after = sb.invoke({"action": "ok"})
        lines = {r.request_id: [e.message for e in sb.log_events(request_id=r.request_id)] for r in records}
    return records, timeout, after, lines


@pytest.fixture(scope="module")
def both():
    return _run("bootstrap"), _run("awslambdaric")


def _comparable(record):
    result = record.result
    if isinstance(result, dict) and "stackTrace" in result:
        result = {k: v for k, v in result.items() if k not in ("stackTrace", "requestId")}
    if isinstance(result, dict) and "pid" in result:
        result = {k: v for k, v in result.items() if k != "pid"}
    return record.status, record.error_type, result


def test_results_and_error_payloads_match(both):
    (ours, _, _, _), (aws, _, _, _) = both
    for mine, theirs in zip(ours, aws):
        assert _comparable(mine) == _comparable(theirs)


def test_error_payload_has_awss_fields_with_awslambdaric(both):
    _, (aws, _, _, _) = both
    error = aws[1].result
    assert set(error) >= {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert (error["errorType"], error["errorMessage"], error["requestId"]) == (
        "ValueError",
        "boom",
        aws[1].request_id,
    )


def test_timeouts_end_the_environment_with_either_client(both):
    for _, timeout, after, _ in both:
        assert timeout.status == "timeout"
        assert after.status == "success" and after.cold_start is True


def test_logs_carry_the_request_id_with_either_client(both):
    for records, _, _, lines in both:
        multiline = records[2]
        info = [line for line in lines[multiline.request_id] if line.startswith("[INFO]")]
        assert info and f"\t{multiline.request_id}\t" in info[0] and "first line" in info[0]
        assert any(
            line.startswith("REPORT RequestId: " + multiline.request_id)
            for line in lines[multiline.request_id]
        )
