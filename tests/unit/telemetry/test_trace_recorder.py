"""The trace recorder on its own: X-Ray's trace header read and continued, hops kept per trace in a
bounded ring, an invocation's Lambda hops told from its record, SDK calls named after the invocation that
made them, and the service map counting every hop of the session."""

from __future__ import annotations

import re

from sandbox.config import FunctionConfiguration
from sandbox.lambda_.async_invoke import AsyncInvoker
from sandbox.lambda_.invocation import InvocationLog, InvocationRecord, InvocationStatus
from sandbox.lambda_.recursion import lineage_depth, new_trace_id
from sandbox.telemetry.traces import (
    TraceRecorder,
    lambda_hops,
    new_root,
    parse_trace_header,
    trace_root,
)

AWS_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0"
TRACE_HEADER_FORMAT = re.compile(
    r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;Lineage=[0-9a-f]{8}:\d+$"
)


def test_the_trace_header_is_read_as_x_ray_writes_it():
    assert parse_trace_header(AWS_HEADER) == {
        "Root": "1-5759e988-bd862e3fe1be46a994272793",
        "Parent": "53995c3f42cd8ad8",
        "Sampled": "1",
        "Lineage": "a87bd80c:0",
    }
    assert trace_root(AWS_HEADER) == "1-5759e988-bd862e3fe1be46a994272793"
    assert trace_root("1-5759e988-bd862e3fe1be46a994272793") == "1-5759e988-bd862e3fe1be46a994272793"
    assert trace_root("Self=1-67891234-12456789abcdef012345678") is None
    assert trace_root(None) is None and trace_root("") is None and trace_root("garbage;;=") is None


def test_a_new_root_is_version_1_the_time_in_hex_and_96_random_bits():
    root = new_root(clock=lambda: 0x5759E988)
    assert re.fullmatch(r"1-5759e988-[0-9a-f]{24}", root)
    assert new_root() != new_root()


def test_an_invocations_trace_header_continues_an_upstream_root_with_its_own_parent_and_lineage():
    fresh = new_trace_id("resize", 3)
    assert TRACE_HEADER_FORMAT.match(fresh) and lineage_depth(fresh) == 3
    continued = new_trace_id("resize", 1, root="1-5759e988-bd862e3fe1be46a994272793")
    assert TRACE_HEADER_FORMAT.match(continued)
    assert trace_root(continued) == "1-5759e988-bd862e3fe1be46a994272793"
    assert parse_trace_header(continued)["Parent"] != parse_trace_header(AWS_HEADER)["Parent"]


def test_hops_come_back_in_the_order_they_began():
    traces = TraceRecorder()
    root = new_root()
    traces.add(root, "Lambda", "handler", "resize", 10.0, 10.3)
    traces.add(f"Root={root};Parent=1", "S3", "PutObject", "b/test.jpg", 9.0)
    traces.add(root, "S3", "GetObject", "b/test.jpg", 10.1, 10.2, outcome="200")
    hops = traces.trace(root)
    assert [h["operation"] for h in hops] == ["PutObject", "handler", "GetObject"]
    assert hops[1]["duration_ms"] == 300.0 and not hops[2]["failed"]
    assert traces.trace(new_root()) is None


def test_old_traces_are_forgotten_whole_and_counted_but_the_map_keeps_their_counts():
    traces = TraceRecorder(keep=3)
    roots = [new_root() for _ in range(5)]
    for root in roots:
        traces.add(root, "S3", "notification", "q", 1.0, 2.0, edge=(("bucket", "b"), ("queue", "q")))
    assert traces.forgotten == 2
    assert traces.trace(roots[0]) is None and traces.trace(roots[1]) is None
    assert traces.trace(roots[4])[0]["resource"] == "q"
    graph = traces.service_map()
    assert graph["traces_kept"] == 3 and graph["forgotten"] == 2 and graph["keep"] == 3
    assert graph["edges"] == [
        {"from": "bucket:b", "to": "queue:q", "count": 5, "errors": 0, "operations": {"notification": 5}}
    ]


def _record(**fields) -> InvocationRecord:
    base = dict(
        request_id="req-1",
        function_name="resize",
        event={},
        invocation_type="Event",
        source="aws:s3",
        subject={"bucket": "uploads", "key": "a b.jpg"},
        trace_id=new_trace_id("resize", 1),
        status=InvocationStatus.SUCCESS,
        cold_start=True,
        environment_id="env-1",
        init_duration_ms=412.3,
        duration_ms=100.0,
        billed_duration_ms=513,
        max_memory_used_mb=60,
        detected_at=99.0,
        queued_at=100.0,
        dequeued_at=100.5,
        allocated_at=101.0,
        started_at=101.0,
        finished_at=101.1,
        logged_at=101.2,
        responded_at=101.2,
        final=True,
    )
    return InvocationRecord(**{**base, **fields})


def test_an_attempts_lambda_hops_are_told_from_its_record():
    hops = lambda_hops(_record())
    assert [h["operation"] for h in hops] == ["async queue", "environment", "handler", "REPORT"]
    queue, environment, handler, report = hops
    assert (queue["start"], queue["end"]) == (100.0, 100.5)
    assert environment["detail"] == "cold, INIT 412 ms · environment env-1"
    assert (handler["start"], handler["end"], handler["outcome"]) == (101.0, 101.1, "ok")
    assert handler["edge"] == (("bucket", "uploads"), ("function", "resize"))
    assert report["detail"] == "Duration 100.00 ms, Billed 513 ms, Max Memory 60 MB"
    scheduled = lambda_hops(_record(source="aws.events", subject={"rule": "nightly"}))
    assert scheduled[2]["edge"] == (("rule", "nightly"), ("function", "resize"))
    by_hand = lambda_hops(_record(source=None, subject={}))  # aws lambda invoke: no trigger on the map
    assert by_hand[2]["edge"] is None
    warm = lambda_hops(_record(cold_start=False, invocation_type="RequestResponse", queued_at=None))
    assert [h["operation"] for h in warm] == ["environment", "handler", "REPORT"]
    assert warm[0]["detail"].startswith("warm") and warm[0]["start"] == 99.0


def test_an_invocation_is_recorded_once_when_it_is_over_and_a_failure_counts_as_an_error():
    traces = TraceRecorder()
    record = _record(final=False, status=InvocationStatus.RUNNING)
    traces.on_invocation(record)
    root = trace_root(record.trace_id)
    assert traces.root_of("req-1") == root and traces.trace(root) is None
    record.final, record.status, record.error_type = True, InvocationStatus.ERROR, "Runtime.ExitError"
    traces.on_invocation(record)
    traces.on_invocation(record)
    handler = [h for h in traces.trace(root) if h["operation"] == "handler"]
    assert len(handler) == 1 and handler[0]["failed"] and handler[0]["outcome"] == "error"
    [edge] = traces.service_map()["edges"]
    assert (edge["count"], edge["errors"], edge["operations"]) == (1, 1, {"Invoke (async)": 1})


def test_an_sdk_call_is_named_after_the_invocation_whose_trace_header_it_carries():
    traces = TraceRecorder()
    record = _record(final=False)
    traces.on_invocation(record)
    traces.add_request(
        record.trace_id, "S3", "GetObject", "uploads/a b.jpg", ("bucket", "uploads"), 200, 100.9, 101
    )
    traces.add_request(record.trace_id, "S3", "PutObject", "out/a.jpg", ("bucket", "out"), 403, 101, 101.05)
    stranger = f"Root={new_root()};Parent=0123456789abcdef;Sampled=0"
    traces.add_request(stranger, "SQS", "SendMessage", "q", ("queue", "q"), 200, 1, 2)
    hops = traces.trace(trace_root(record.trace_id))
    assert [(h["operation"], h["caller"], h["request_id"]) for h in hops] == [
        ("GetObject", "resize", "req-1"),
        ("PutObject", "resize", "req-1"),
    ]
    assert hops[1]["failed"]
    edges = {(e["from"], e["to"]): (e["count"], e["errors"]) for e in traces.service_map()["edges"]}
    assert edges == {("function:resize", "bucket:uploads"): (1, 0), ("function:resize", "bucket:out"): (1, 1)}
    assert traces.trace(trace_root(stranger))[0]["caller"] is None  # a client's own traced call


def test_the_async_queue_times_when_an_attempt_was_queued_and_taken():
    class Runtime:
        function = FunctionConfiguration()

        def invoke(self, record, payload):
            record.status = InvocationStatus.SUCCESS

    records = InvocationLog()
    invoker = AsyncInvoker(lambda name: Runtime(), records, workers=1)
    try:
        record = invoker.submit(InvocationRecord(request_id="r", function_name="f", event={}))
        assert records.wait_for(lambda r: r.final, 5) is record and record.status == "success"
        assert record.queued_at is not None and record.dequeued_at >= record.queued_at
    finally:
        invoker.stop()


def test_memory_stays_bounded_by_hops_as_well_as_by_traces(monkeypatch):
    from sandbox.telemetry import traces as module

    monkeypatch.setattr(module, "MAX_SEGMENTS", 10)
    monkeypatch.setattr(module, "MAX_SEGMENTS_PER_TRACE", 4)
    recorder = TraceRecorder(keep=100)
    loop = new_root()
    for n in range(9):  # a loop's trace keeps its first hops only
        recorder.add(loop, "S3", "PutObject", f"b/{n}", float(n))
    assert [h["resource"] for h in recorder.trace(loop)] == ["b/0", "b/1", "b/2", "b/3"]
    roots = [new_root() for _ in range(4)]
    for root in roots:
        recorder.add(root, "S3", "PutObject", "b/k", 1.0, 2.0)
        recorder.add(root, "Lambda", "handler", "f", 1.0, 2.0)
    assert recorder.trace(loop) is None and recorder.forgotten == 1  # 4 + 8 hops > 10: the oldest went
    assert all(recorder.trace(root) for root in roots)
