"""A Node function's path: the Node bootstrap sets _X_AMZN_TRACE_ID per invocation and the AWS SDK for
JavaScript sends it as X-Amzn-Trace-Id (its recursion detection middleware), as botocore does, so its SDK
calls are hops of its trace (examples/node-resize; skipped without its node_modules)."""

from __future__ import annotations

import pytest

from helpers.paths import SAMPLES
from helpers.sandboxes import start_sandbox
from sandbox.guide.example_setups import set_up


@pytest.mark.slow
def test_a_node_functions_sdk_calls_carry_its_trace_too():
    from sandbox.guide.example_setups.node_resize import BUCKET, FUNCTION, missing

    reason = missing()
    if reason:
        pytest.skip(reason)
    sandbox = start_sandbox()
    try:
        set_up(sandbox, ["node-resize"])
        sandbox.s3.upload_file(str(SAMPLES / "test.jpg"), BUCKET, "node path.jpg")
        record = sandbox.wait_for_key("node path.jpg", timeout=90, bucket=BUCKET)
        assert record.function_name == FUNCTION and record.status == "success"
        calls = [
            h
            for h in sandbox.traces.trace(sandbox.traces.root_of(record.request_id))
            if h["caller"] == FUNCTION
        ]
        assert [(h["operation"], h["resource"]) for h in calls] == [
            ("GetObject", f"{BUCKET}/node path.jpg"),
            ("PutObject", f"{sandbox.config.destination_bucket}/resized-node path.jpg"),
        ]
    finally:
        sandbox.stop()
