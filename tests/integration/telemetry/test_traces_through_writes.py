"""A function's S3 write continues its trace: the write carries X-Amzn-Trace-Id (botocore sends the
function's _X_AMZN_TRACE_ID), and the invocation it triggers runs on the same trace. A function writing
into its own trigger bucket (tests/handlers/loop) makes one trace of 16 invocations and the dropped 17th,
and the service map counts the drop as the edge's error."""

from __future__ import annotations

import pytest

from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import settle, wait_for_record

SOURCE = "source-image-bucket123"


@pytest.mark.slow
def test_a_chain_of_writes_is_one_trace_and_its_dropped_end_is_an_error_on_the_map():
    sb = start_sandbox(HANDLERS / "loop", environment={"DESTINATION_BUCKET": SOURCE})
    try:
        sb.s3.put_object(Bucket=SOURCE, Key="seed.txt", Body=b"seed")
        wait_for_record(sb, lambda r: r.status == "dropped", what="the 17th write of the chain to be dropped")
        settle(sb)
        records = sb.invocations()
        assert len(records) == 17
        [root] = {sb.traces.root_of(r.request_id) for r in records}
        assert all(r.trace_id.startswith(f"Root={root};") for r in records)
        hops = sb.traces.trace(root)
        handlers = [h for h in hops if h["operation"] == "handler"]
        writes = [h for h in hops if h["caller"] == "ImageResizeLambda" and h["operation"] == "PutObject"]
        assert len(handlers) == 16 and len(writes) == 16
        [dropped] = [h for h in hops if h["operation"] == "not run"]
        assert dropped["outcome"] == "dropped" and dropped["failed"]
        assert len({h["request_id"] for h in handlers}) == 16  # each invocation its own request id
        edges = {(e["from"], e["to"]): e for e in sb.traces.service_map()["edges"]}
        invoked = edges[(f"bucket:{SOURCE}", "function:ImageResizeLambda")]
        assert (invoked["count"], invoked["errors"]) == (17, 1)
        assert edges[("function:ImageResizeLambda", f"bucket:{SOURCE}")]["operations"] == {"PutObject": 16}
    finally:
        sb.stop()
