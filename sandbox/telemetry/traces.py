"""One event's path across services, and the session's service map: what X-Ray's trace view and trace map
show, kept in memory and offline.

A trace is every hop that carried one trace id (the ``Root`` of an ``X-Amzn-Trace-Id`` header, as
``1-<8 hex seconds>-<24 hex>``): the request that started it, the event source's hops (S3's notification,
a queue's wait and its poller's batch, a stream's batch and checkpoint, API Gateway's request), the
Lambda service's (the async queue, the execution environment cold or warm, the handler, REPORT) and the
SDK calls the handler made, which the endpoint records because botocore copies ``_X_AMZN_TRACE_ID`` into
``X-Amzn-Trace-Id`` on every request a function makes. The ``Parent`` of that header names the
invocation that made the call.

The recorder keeps the newest ``keep`` traces, and at most ``MAX_SEGMENTS`` hops in all (a ring: an older
trace is forgotten whole, and ``forgotten`` counts them); the service map counts every hop of the
session, forgotten traces' included.
Where the sandbox differs from X-Ray: docs/page.md.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass

KEEP_TRACES = 2000
MAX_SEGMENTS_PER_TRACE = 200  # a trace with more hops keeps its first ones (a loop, a huge fan-out)
MAX_SEGMENTS = 50_000  # hops kept in all: past it the oldest traces go, however few there are
MAX_PARENTS = 20_000  # invocation Parent ids remembered to name the caller of an SDK call


def parse_trace_header(header: str | None) -> dict[str, str]:
    """``Root=1-...;Parent=...;Sampled=0;Lineage=...`` as a dict (names as written); {} for nothing."""
    fields: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            fields[name] = value.strip()
    return fields


def trace_root(header: str | None) -> str | None:
    """The trace id (``Root``) an ``X-Amzn-Trace-Id`` header, an ``AWSTraceHeader`` or a
    ``_X_AMZN_TRACE_ID`` carries; a bare ``1-...-...`` root is one too. None when there is none."""
    if not header:
        return None
    root = parse_trace_header(header).get("Root")
    if root is None and "=" not in header and header.strip().startswith("1-"):
        root = header.strip()
    return root or None


def new_root(clock: Callable[[], float] = time.time) -> str:
    """A trace id in X-Ray's format: version 1, the epoch seconds in 8 hex digits, 96 random bits."""
    return f"1-{int(clock()):08x}-{os.urandom(12).hex()}"


Node = tuple[str, str]  # (kind, name): ("bucket", "images"), ("queue", "q"), ("function", "resize")...


@dataclass(frozen=True)
class Segment:
    """One hop of a trace."""

    root: str
    service: str  # "S3", "SQS", "DynamoDB", "API Gateway", "EventBridge", "Lambda"
    operation: str  # "PutObject", "notification", "async queue", "environment", "handler", "REPORT"...
    resource: str  # what it acted on: "images/test.jpg", a function's name, a queue's...
    start: float  # epoch seconds
    end: float
    outcome: str = "ok"  # "ok", "error", or what the hop ended with ("200", "timeout"...)
    detail: str = ""  # "cold, INIT 412 ms"; "batch of 3"...
    request_id: str | None = None  # the invocation this hop belongs to
    attempt: int | None = None
    caller: str | None = None  # an SDK call's function

    @property
    def failed(self) -> bool:
        return self.outcome not in ("ok", "success") and not self.outcome.startswith(("1", "2", "3"))

    def as_dict(self) -> dict:
        data = asdict(self)
        data["duration_ms"] = round(max(self.end - self.start, 0.0) * 1000, 2)
        data["failed"] = self.failed
        return data


class TraceRecorder:
    """Segments by trace id (the newest ``keep`` traces), and the session's service map."""

    def __init__(self, keep: int = KEEP_TRACES, clock: Callable[[], float] = time.time):
        self.keep = keep
        self.clock = clock
        self._lock = threading.Lock()
        self._traces: OrderedDict[str, list[Segment]] = OrderedDict()
        self.forgotten = 0  # traces dropped to keep memory bounded
        self.recorded = 0  # segments recorded in the session
        self._kept = 0  # segments held now
        self._parents: OrderedDict[str, tuple[str, str, int]] = OrderedDict()  # Parent -> (function, id, n)
        self._by_request: OrderedDict[str, str] = OrderedDict()  # request id -> root
        # A message that carries no trace header on AWS (S3 -> SQS of an untraced upload): the MD5 of its
        # body -> root, so that the path still shows the queue hop without an attribute AWS would not send.
        self._by_message: OrderedDict[str, str] = OrderedDict()
        self._nodes: dict[Node, dict] = {}
        self._edges: dict[tuple[Node, Node], dict] = {}
        self._derived: set[str] = set()  # invocation attempts whose Lambda hops are recorded
        self.version = 0

    # -- recording ---------------------------------------------------------------------------------
    def add(
        self,
        trace: str | None,
        service: str,
        operation: str,
        resource: str,
        start: float,
        end: float | None = None,
        outcome: str = "ok",
        detail: str = "",
        request_id: str | None = None,
        attempt: int | None = None,
        caller: str | None = None,
        edge: tuple[Node, Node] | None = None,
        edge_label: str | None = None,
    ) -> Segment | None:
        """Record one hop of the trace ``trace`` (a header or a bare root) and, with ``edge``, count it on
        the service map (as ``edge_label``, else as the operation). A hop without a trace id counts on the
        map only."""
        root = trace_root(trace)
        segment = None
        if root is not None:
            segment = Segment(
                root,
                service,
                operation,
                str(resource),
                start,
                start if end is None else max(end, start),
                str(outcome),
                detail,
                request_id,
                attempt,
                caller,
            )
        with self._lock:
            if segment is not None:
                segments = self._traces.get(root)
                if segments is None:
                    segments = self._traces[root] = []
                else:
                    self._traces.move_to_end(root)
                if len(segments) < MAX_SEGMENTS_PER_TRACE:
                    segments.append(segment)
                    self._kept += 1
                self.recorded += 1
                while self._traces and (len(self._traces) > self.keep or self._kept > MAX_SEGMENTS):
                    self._kept -= len(self._traces.popitem(last=False)[1])
                    self.forgotten += 1
            if edge is not None:
                failed = segment.failed if segment else outcome not in ("ok", "success")
                self._count(edge, edge_label or operation, failed)
            self.version += 1
        return segment

    def _count(self, edge: tuple[Node, Node], operation: str, failed: bool) -> None:
        for node in edge:
            self._nodes.setdefault(node, {"kind": node[0], "name": node[1]})
        counts = self._edges.setdefault(edge, {"count": 0, "errors": 0, "operations": {}})
        counts["count"] += 1
        counts["errors"] += int(failed)
        counts["operations"][operation] = counts["operations"].get(operation, 0) + 1

    def invocation_started(self, trace_header: str | None, function_name: str, request_id: str) -> None:
        """An invocation's trace header: its Parent names the function behind the SDK calls that carry it."""
        fields = parse_trace_header(trace_header)
        with self._lock:
            if fields.get("Parent"):
                self._parents[fields["Parent"]] = (function_name, request_id, 0)
                while len(self._parents) > MAX_PARENTS:
                    self._parents.popitem(last=False)
            if fields.get("Root"):
                self._by_request[request_id] = fields["Root"]
                while len(self._by_request) > MAX_PARENTS:
                    self._by_request.popitem(last=False)

    def caller(self, trace_header: str | None) -> tuple[str, str] | None:
        """(function, request id) of the invocation whose trace header this is, if the sandbox made it."""
        parent = parse_trace_header(trace_header).get("Parent")
        with self._lock:
            found = self._parents.get(parent) if parent else None
        return (found[0], found[1]) if found else None

    def add_request(
        self,
        trace_header: str,
        service: str,
        operation: str,
        resource: str,
        node: Node | None,
        status: int,
        start: float,
        end: float,
    ) -> None:
        """A request to the endpoint that carried ``X-Amzn-Trace-Id``: a function's SDK call (its Parent
        names the invocation) or a client's own traced request."""
        caller = self.caller(trace_header)
        edge = ((("function", caller[0]), node) if caller and node else None) if node else None
        self.add(
            trace_header,
            service,
            operation,
            resource,
            start,
            end,
            outcome=str(status),
            request_id=caller[1] if caller else None,
            caller=caller[0] if caller else None,
            edge=edge,
        )

    def on_invocation(self, record) -> None:
        """An invocation record changed (``InvocationLog.subscribe``): its Parent is remembered when it is
        made; once it is over, its Lambda hops are recorded and its trigger counted on the map."""
        if record.request_id not in self._by_request:
            self.invocation_started(record.trace_id, record.function_name, record.request_id)
        if not record.final or record.id in self._derived:
            return
        with self._lock:
            if record.id in self._derived:
                return
            self._derived.add(record.id)
            if len(self._derived) > MAX_PARENTS:
                self._derived.clear()  # a forgotten attempt recorded twice at worst: only after 20,000
        for hop in lambda_hops(record):
            self.add(record.trace_id, **hop)

    def link_message(self, body_md5: str, root: str) -> None:
        """Remember which trace an untraced message (no ``AWSTraceHeader``), known by its body's MD5 (SQS's
        ``md5OfBody``), belongs to."""
        with self._lock:
            self._by_message[body_md5] = root
            while len(self._by_message) > MAX_PARENTS:
                self._by_message.popitem(last=False)

    # -- reading -----------------------------------------------------------------------------------
    def message_root(self, body_md5: str) -> str | None:
        with self._lock:
            return self._by_message.get(body_md5)

    def root_of(self, request_id: str) -> str | None:
        with self._lock:
            return self._by_request.get(request_id)

    def trace(self, root: str) -> list[dict] | None:
        """The hops of one trace in the order they began; None when the trace is not (or no longer) kept."""
        with self._lock:
            segments = list(self._traces.get(root) or ())
        if not segments:
            return None
        return [s.as_dict() for s in sorted(segments, key=lambda s: (s.start, s.end))]

    def service_map(self) -> dict:
        with self._lock:
            nodes = [dict(n, id=f"{n['kind']}:{n['name']}") for n in self._nodes.values()]
            edges = [
                {
                    "from": f"{a[0]}:{a[1]}",
                    "to": f"{b[0]}:{b[1]}",
                    "count": c["count"],
                    "errors": c["errors"],
                    "operations": dict(c["operations"]),
                }
                for (a, b), c in self._edges.items()
            ]
            return {
                "nodes": nodes,
                "edges": edges,
                "traces_kept": len(self._traces),
                "keep": self.keep,
                "forgotten": self.forgotten,
                "version": self.version,
            }


# What each trigger's invocations come from, on the service map: (kind of node, subject's field).
SOURCE_NODES = {
    "aws:s3": ("bucket", "bucket"),
    "aws:sqs": ("queue", "queue"),
    "aws:dynamodb": ("table", "table"),
    "aws:apigateway": ("api", "api"),
    "aws:lambda-url": ("url", "url"),
    "aws.events": ("rule", "rule"),
    "aws.scheduler": ("schedule", "schedule"),
}


def _ms(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else max(b - a, 0.0) * 1000


def lambda_hops(record) -> list[dict]:
    """The Lambda service's hops of one finished attempt, from its record's timings: the async queue, the
    execution environment (cold with INIT, or warm), the handler, REPORT; and its trigger on the map."""
    function = record.function_name
    hops: list[dict] = []
    ids = {"request_id": record.request_id, "attempt": record.attempt}
    asynchronous = record.invocation_type == "Event"
    queued_at = getattr(record, "queued_at", None)
    dequeued_at = getattr(record, "dequeued_at", None)
    if asynchronous and queued_at is not None:
        waited = dequeued_at if dequeued_at is not None else (record.allocated_at or record.responded_at)
        hops.append(
            dict(
                service="Lambda",
                operation="async queue",
                resource=function,
                start=queued_at,
                end=waited or queued_at,
                detail=f"attempt {record.attempt}" if record.attempt > 1 else "",
                **ids,
            )
        )
    if record.allocated_at is not None:
        start = dequeued_at if asynchronous and dequeued_at else record.detected_at
        if record.cold_start:
            init = record.init_duration_ms
            detail = f"cold, INIT {init:.0f} ms" if init is not None else "cold"
        else:
            detail = "warm"
        if record.environment_id:
            detail = f"{detail} · environment {record.environment_id}"
        hops.append(
            dict(
                service="Lambda",
                operation="environment",
                resource=function,
                start=min(start, record.allocated_at),
                end=record.allocated_at,
                detail=detail,
                **ids,
            )
        )
    status = str(getattr(record.status, "value", record.status))
    source = SOURCE_NODES.get(record.source or "")
    subject_name = (record.subject or {}).get(source[1]) if source else None
    edge = ((source[0], str(subject_name)), ("function", function)) if subject_name else None
    invoked = "Invoke (async)" if asynchronous else "Invoke (sync)"
    if record.started_at is not None:
        hops.append(
            dict(
                service="Lambda",
                operation="handler",
                resource=function,
                start=record.started_at,
                end=record.finished_at or record.started_at,
                outcome="ok" if status == "success" else status,
                detail=record.error_type or "",
                edge=edge,
                edge_label=invoked,
                **ids,
            )
        )
    else:  # never ran (dropped, dead-lettered before a start): the map still counts the trigger
        at = record.responded_at or record.detected_at
        hops.append(
            dict(
                service="Lambda",
                operation="not run",
                resource=function,
                start=at,
                end=at,
                outcome=status,
                detail=record.error_type or "",
                edge=edge,
                edge_label=invoked,
                **ids,
            )
        )
    if record.logged_at is not None and record.finished_at is not None:
        facts = [f"Duration {record.duration_ms:.2f} ms"] if record.duration_ms is not None else []
        if record.billed_duration_ms is not None:
            facts.append(f"Billed {record.billed_duration_ms} ms")
        if record.max_memory_used_mb is not None:
            facts.append(f"Max Memory {record.max_memory_used_mb} MB")
        hops.append(
            dict(
                service="Lambda",
                operation="REPORT",
                resource=function,
                start=record.finished_at,
                end=record.logged_at,
                detail=", ".join(facts),
                **ids,
            )
        )
    return hops
