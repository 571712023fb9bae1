"""CloudWatch Logs for the function: group ``/aws/lambda/<name>``, one stream per execution environment.

Every line goes to two places:
- the local endpoint's CloudWatch Logs, through boto3 (``put_log_events``), so ``aws logs
  filter-log-events --log-group-name /aws/lambda/ImageResizeLambda`` shows what AWS would show. A
  background thread batches the writes, so a handler that floods stdout cannot stall an invocation;
- an in-memory mirror the page, the CLI and the terminal tail read without a round trip.

Platform lines follow AWS's exact format (tab-separated; REPORT ends with a tab).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from sandbox.telemetry.batch_writer import BatchedWrites, BatchWriter

MAX_EVENT_BYTES = 256 * 1024  # CloudWatch Logs' limit for one event; AWS truncates longer lines
MIRROR_EVENTS = 20_000  # events kept in memory for the page and the CLI


def log_group_name(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def new_log_stream_name(now: float | None = None, version: str = "$LATEST") -> str:
    """``YYYY/MM/DD/[$LATEST]<32 lower-case hex>``, as AWS names the stream of a new environment."""
    day = datetime.fromtimestamp(now or time.time(), tz=timezone.utc).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{os.urandom(16).hex()}"


def iso_ms(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- platform lines -------------------------------------------------------------------------------------
def init_start_line(runtime_version: str, region: str) -> str:
    return (
        f"INIT_START Runtime Version: {runtime_version}\tRuntime Version ARN: "
        f"arn:aws:lambda:{region}::runtime:{_runtime_id(runtime_version)}"
    )


def _runtime_id(runtime_version: str) -> str:
    import hashlib

    return hashlib.sha256(runtime_version.encode()).hexdigest()


def start_line(request_id: str, version: str = "$LATEST") -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(
    request_id: str,
    duration_ms: float,
    billed_ms: int,
    memory_mb: int,
    max_memory_mb: int,
    init_duration_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_ms} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_memory_mb} MB",
    ]
    if init_duration_ms is not None:
        parts.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status:  # newer REPORT lines carry a status for timeouts and crashes
        parts.append(f"Status: {status}")
        if error_type:
            parts.append(f"Error Type: {error_type}")
    return "\t".join(parts) + "\t"


def timeout_line(request_id: str, timeout_s: float, now: float) -> str:
    return f"{iso_ms(now)} {request_id} Task timed out after {timeout_s:.2f} seconds"


# -- the in-memory mirror and the writer ----------------------------------------------------------------
@dataclass(frozen=True)
class LogEvent:
    seq: int  # increasing over the whole group, for live tails ("everything after seq N")
    group: str
    stream: str
    timestamp_ms: int
    message: str
    request_id: str | None = None  # the invocation the line belongs to, when known

    @property
    def kind(self) -> str:
        head = self.message.split(" ", 1)[0]
        if head in ("START", "END", "REPORT", "INIT_START", "INIT_REPORT"):
            return "platform"
        if (
            self.message.startswith("[ERROR]")
            or "Task timed out" in self.message
            or "Runtime exited with error" in self.message
        ):
            return "error"
        return "function"


class CloudWatchLogs(BatchedWrites):
    """The function logs of a sandbox. ``client`` is a boto3 ``logs`` client for the local endpoint
    (None: keep the mirror only, for unit tests)."""

    def __init__(self, client=None, clock: Callable[[], float] = time.time):
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._events: deque[LogEvent] = deque(maxlen=MIRROR_EVENTS)
        self._seq = 0
        self._streams: dict[str, dict] = {}  # stream name -> {"group", "created", "last"}
        self._subscribers: list[Callable[[LogEvent], None]] = []
        self._known: set[tuple[str, str | None]] = set()
        self._writer = (
            BatchWriter(self._write, "cloudwatch-logs", linger_s=0.2) if client is not None else None
        )

    def subscribe(self, callback: Callable[[LogEvent], None]) -> None:
        self._subscribers.append(callback)

    def put(
        self,
        group: str,
        stream: str,
        message: str,
        request_id: str | None = None,
        timestamp: float | None = None,
    ) -> LogEvent:
        data = message.encode("utf-8", "replace")
        if len(data) > MAX_EVENT_BYTES:
            message = data[:MAX_EVENT_BYTES].decode("utf-8", "ignore") + " [truncated: event over 256 KB]"
        ts = int((timestamp if timestamp is not None else self._clock()) * 1000)
        with self._lock:
            self._seq += 1
            event = LogEvent(self._seq, group, stream, ts, message, request_id)
            self._events.append(event)
            info = self._streams.setdefault(stream, {"group": group, "created": ts, "last": ts})
            info["last"] = ts
        if self._writer is not None:
            self._writer.put(event)
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                pass
        return event

    def restore(self, events: Iterable[tuple[str, str, int, str]]) -> int:
        """Fill the mirror from CloudWatch Logs' restored events ``(group, stream, timestamp_ms, message)``,
        oldest first, without writing them again. A stream is one environment, which runs one invocation
        at a time, so each line belongs to the request of the START before it."""
        current: dict[str, str | None] = {}
        count = 0
        with self._lock:
            for group, stream, ts, message in events:
                if message.startswith("START RequestId: "):
                    current[stream] = message.split()[2]
                request_id = current.get(stream)
                if message.startswith(("END RequestId: ", "REPORT RequestId: ")):
                    request_id = message.split()[2]
                self._seq += 1
                self._events.append(LogEvent(self._seq, group, stream, ts, message, request_id))
                info = self._streams.setdefault(stream, {"group": group, "created": ts, "last": ts})
                info["last"] = max(info["last"], ts)
                self._known.update({(group, None), (group, stream)})
                count += 1
        return count

    # -- reading (the page, the CLI) ----------------------------------------------------------------
    def events(
        self,
        group: str | None = None,
        stream: str | None = None,
        after_seq: int = 0,
        contains: str | None = None,
        request_id: str | None = None,
        limit: int | None = None,
    ) -> list[LogEvent]:
        with self._lock:
            events = list(self._events)
        out = [
            e
            for e in events
            if e.seq > after_seq
            and (group is None or e.group == group)
            and (stream is None or e.stream == stream)
            and (request_id is None or e.request_id == request_id)
            and (not contains or contains.lower() in e.message.lower())
        ]
        return out[-limit:] if limit else out

    def streams(self, group: str | None = None) -> list[dict]:
        with self._lock:
            items = [
                dict(name=name, **info)
                for name, info in self._streams.items()
                if group is None or info["group"] == group
            ]
        return sorted(items, key=lambda s: s["last"], reverse=True)

    # -- writing to the endpoint ---------------------------------------------------------------------
    def _write(self, batch: Iterable[LogEvent]) -> None:
        by_stream: dict[tuple[str, str], list[LogEvent]] = {}
        for event in batch:
            by_stream.setdefault((event.group, event.stream), []).append(event)
        for (group, stream), events in by_stream.items():
            self._ensure(group, stream)
            self._client.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[{"timestamp": e.timestamp_ms, "message": e.message} for e in events],
            )

    def _ensure(self, group: str, stream: str) -> None:
        if (group, None) not in self._known:
            try:
                self._client.create_log_group(logGroupName=group)
            except self._client.exceptions.ResourceAlreadyExistsException:
                pass
            self._known.add((group, None))
        if (group, stream) not in self._known:
            try:
                self._client.create_log_stream(logGroupName=group, logStreamName=stream)
            except self._client.exceptions.ResourceAlreadyExistsException:
                pass
            self._known.add((group, stream))
