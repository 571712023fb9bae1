"""The page's JSON for one invocation row and one log line, built from the sandbox's own objects by
reading attributes (no deep copies): the change feed builds them for every change, the views for every
page of a list."""

from __future__ import annotations

from web.gallery import will_retry

ROW_FIELDS = (
    "id",
    "request_id",
    "function_name",
    "qualifier",
    "executed_version",
    "trigger",
    "invocation_type",
    "summary",
    "attempt",
    "status",
    "cold_start",
    "environment_id",
    "log_stream",
    "duration_ms",
    "billed_duration_ms",
    "init_duration_ms",
    "memory_size_mb",
    "max_memory_used_mb",
    "cost_usd",
    "gb_seconds",
    "error_type",
    "error_message",
    "streamed_bytes",
    "detected_at",
)
PLATFORM_HEADS = ("INIT_START", "INIT_REPORT", "START", "END", "REPORT")


def invocation_row(record, maximum_retry_attempts: int, serial: int | None = None) -> dict:
    """One attempt as the Invocations table shows it. ``serial`` orders rows newest first and is the
    cursor of the next page."""
    out = {name: getattr(record, name) for name in ROW_FIELDS}
    subject = record.subject or {}
    out["key"] = subject.get("key")
    out["bucket"] = subject.get("bucket")
    out["retry"] = record.attempt - 1  # "retry 1" is the 2nd attempt
    out["will_retry"] = will_retry(record, maximum_retry_attempts)
    out["serial"] = serial
    return out


def log_event_json(event) -> dict:
    head = event.message.split(" ", 1)[0].split("\t", 1)[0]
    return {
        "seq": event.seq,
        "group": event.group,
        "stream": event.stream,
        "timestamp_ms": event.timestamp_ms,
        "message": event.message,
        "request_id": event.request_id,
        "kind": event.kind,
        "platform": head if head in PLATFORM_HEADS else None,
    }
