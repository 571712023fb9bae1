"""Invocation records: one per attempt, with every figure the REPORT line carries and the timings of the
guide's five stages (event detection, execution environment allocation, code execution, logging,
response)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum


class InvocationStatus(str, Enum):
    """An attempt's status, as the page, the CLI and the bench show it. A ``str``, so JSON carries the
    plain value and comparisons with ``"success"`` hold."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out of memory"
    THROTTLED = "throttled"
    DEAD_LETTERED = "dead-lettered"
    DROPPED = "dropped"

    __str__ = str.__str__
    __format__ = str.__format__


PENDING, RUNNING, SUCCESS, ERROR, TIMEOUT, OUT_OF_MEMORY, THROTTLED, DEAD_LETTERED, DROPPED = InvocationStatus
FINISHED = {SUCCESS, ERROR, TIMEOUT, OUT_OF_MEMORY, DEAD_LETTERED, DROPPED}


def new_request_id() -> str:
    """A fresh request id per invocation (never one evaluated once at import)."""
    return str(uuid.uuid4())


@dataclass
class InvocationRecord:
    request_id: str
    function_name: str
    event: dict
    invocation_type: str = "Event"  # "Event" (asynchronous, as S3 invokes) or "RequestResponse"
    trigger: str = "s3"  # what started it: "s3", "invoke" (Lambda API), "cli", "redrive"
    # The version or alias the caller named (None: unqualified, which runs $LATEST), and the version
    # that ran (X-Amz-Executed-Version): an alias with a routing configuration picks one per invocation.
    qualifier: str | None = None
    executed_version: str | None = None
    # What the event is about, told by the event source that made it (the runtime never reads events):
    # the AWS event source ("aws:s3"), a one-line summary for the page and the CLI, and its details
    # (for S3: {"bucket": ..., "key": ...}).
    source: str | None = None
    summary: str | None = None
    subject: dict = field(default_factory=dict)
    # How the guide's first and last stages read for this source, as the source tells it: an upload is
    # detected by S3's notification, a queue message by a poller, an API call by a request...
    how_detected: str | None = None
    how_responded: str | None = None
    attempt: int = 1  # 1, 2, 3: asynchronous retries keep the request id
    status: InvocationStatus = InvocationStatus.PENDING
    cold_start: bool | None = None
    environment_id: str | None = None
    log_stream: str | None = None
    init_duration_ms: float | None = None
    duration_ms: float | None = None
    billed_duration_ms: int | None = None
    memory_size_mb: int | None = None
    max_memory_used_mb: int | None = None
    gb_seconds: float | None = None
    cost_usd: float | None = None
    error_type: str | None = None
    error_message: str | None = None
    result: object = None  # the handler's return value (decoded JSON), or the error payload
    trace_id: str | None = None
    client_context: str | None = None  # a synchronous Invoke's ClientContext, decoded (JSON text)
    streamed_bytes: int | None = None  # the runtime streamed its response: how many bytes
    # True once nothing more will happen to this attempt: it succeeded, or failed with no retry left and
    # was dead-lettered or discarded, or a retry has been scheduled. Set after the environment is back
    # in the pool, so an upload made right after one finished finds it warm.
    final: bool = False
    # Where the asynchronous invocation record went (the on-success or on-failure destination), or why not.
    destination: str | None = None
    # the guide's five stages, as epoch seconds
    detected_at: float = field(default_factory=time.time)  # 1. event detection
    queued_at: float | None = None  # an asynchronous attempt put on Lambda's queue...
    dequeued_at: float | None = None  # ... and taken off it by a worker
    allocated_at: float | None = None  # 2. execution environment chosen or created (init done)
    started_at: float | None = None  # 3. code execution begins
    finished_at: float | None = None  # 3. ... and ends
    logged_at: float | None = None  # 4. END/REPORT written
    responded_at: float | None = None  # 5. response

    @property
    def id(self) -> str:
        return f"{self.request_id}#{self.attempt}"

    def next_attempt(self) -> InvocationRecord:
        """The retry's record: the same request id, event, source and trace, the next attempt number."""
        return InvocationRecord(
            request_id=self.request_id,
            function_name=self.function_name,
            event=self.event,
            invocation_type=self.invocation_type,
            trigger=self.trigger,
            qualifier=self.qualifier,
            executed_version=self.executed_version,  # a retry runs the version the first attempt ran
            source=self.source,
            summary=self.summary,
            subject=dict(self.subject),
            how_detected=self.how_detected,
            how_responded=self.how_responded,
            attempt=self.attempt + 1,
            trace_id=self.trace_id,
            detected_at=self.detected_at,
        )

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def stages(self) -> list[dict]:
        """The five stages with their durations in ms (None when not reached)."""

        def span(a, b):
            return None if a is None or b is None else round((b - a) * 1000, 2)

        return [
            {"stage": "Event detection", "at": self.detected_at, "ms": 0.0, "how": self.how_detected},
            {
                "stage": "Execution environment allocation",
                "at": self.allocated_at,
                "ms": span(self.detected_at, self.allocated_at),
            },
            {"stage": "Code execution", "at": self.started_at, "ms": span(self.started_at, self.finished_at)},
            {"stage": "Logging", "at": self.logged_at, "ms": span(self.finished_at, self.logged_at)},
            {
                "stage": "Response",
                "at": self.responded_at,
                "ms": span(self.logged_at, self.responded_at),
                "how": self.how_responded,
            },
        ]

    def as_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        data["id"] = self.id
        for name, value in self.subject.items():  # e.g. "bucket" and "key", which the page pairs images by
            data.setdefault(name, value)
        data["stages"] = self.stages()
        return data


class InvocationLog:
    """Every invocation of the session, newest last; listeners hear each change."""

    def __init__(self, keep: int = 5000):
        self._records: deque[InvocationRecord] = deque(maxlen=keep)
        self._lock = threading.RLock()  # re-entrant: wait_for's predicate may read the log
        self._changed = threading.Condition(self._lock)
        self._listeners: list[Callable[[InvocationRecord], None]] = []
        self.version = 0  # bumped on every change, so pollers can ask "anything new?"
        self._recent: deque[tuple[int, InvocationRecord]] = deque(maxlen=10_000)  # (version, record)

    def subscribe(self, listener: Callable[[InvocationRecord], None]) -> None:
        self._listeners.append(listener)

    def add(self, record: InvocationRecord) -> InvocationRecord:
        with self._lock:
            self._records.append(record)
        self.changed(record)
        return record

    def restore(self, record: InvocationRecord) -> None:
        """A record from the state directory: kept and shown, no listener told (it was accounted for)."""
        with self._changed:
            self._records.append(record)
            self.version += 1
            self._recent.append((self.version, record))

    def changed(self, record: InvocationRecord) -> None:
        with self._changed:
            self.version += 1
            self._recent.append((self.version, record))
            self._changed.notify_all()
        for listener in list(self._listeners):
            try:
                listener(record)
            except Exception:
                pass

    def all(self) -> list[InvocationRecord]:
        with self._lock:
            return list(self._records)

    def find(self, request_id: str) -> list[InvocationRecord]:
        return [r for r in self.all() if r.request_id == request_id or r.id == request_id]

    def wait_for(
        self, predicate: Callable[[InvocationRecord], bool], timeout: float = 30.0
    ) -> InvocationRecord | None:
        """Block until a record satisfies ``predicate``; returns it, or None after ``timeout``. Each record
        is looked at once, then again only when it changes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            for record in reversed(self._records):
                if predicate(record):
                    return record
            seen = self.version
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)
                changed = [r for v, r in self._recent if v > seen]
                seen = self.version
                for record in reversed(changed):
                    if predicate(record):
                        return record

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every record is final: no invocation queued, running, throttled or waiting for its
        retry (a retry's record is added before the attempt it follows is made final). True, or False after
        ``timeout``. Wakes on changes; it does not poll."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(record.final for record in self._records):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True
