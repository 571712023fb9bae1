"""The gallery: each source object beside its resized result, with the status of its invocation.

Pure functions over the sandbox's own invocation records (which know the S3 event, the handler's result
and every timing), so they are tested without a server and the page never lists a bucket to build the
gallery. The source and the output are paired by what the handler itself returned (``results[].key`` ->
``results[].outputKey``), never by guessing the output's name: the output key rule depends on the
handler's settings (prefix, format) and on the source's extension.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import unquote_plus

FAILED_STATUSES = {"error", "timeout", "out of memory"}
S3_SOURCE = "aws:s3"  # the event source the S3 trigger's records name (InvocationRecord.source)
# Triggers whose records put an object in the gallery; a manual invoke or a redrive only updates an
# object the gallery already shows (a test event may name an object that was never uploaded).
UPLOAD_TRIGGERS = {"s3"}


def will_retry(record, maximum_retry_attempts: int) -> bool:
    """An asynchronous attempt that failed is retried while attempts remain (as Lambda does for S3)."""
    return (
        record.invocation_type == "Event"
        and record.status in FAILED_STATUSES
        and record.attempt <= maximum_retry_attempts
    )


def handler_results(record) -> list[dict]:
    """The per-record results the project's handler returns in its body (``results``), if any."""
    result = record.result
    if not isinstance(result, dict):
        return []
    body = result.get("body")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return []
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return [r for r in body["results"] if isinstance(r, dict)]
    return []


def result_for(record, bucket: str, key: str) -> dict | None:
    for entry in handler_results(record):
        if entry.get("key") == key and entry.get("bucket", bucket) == bucket:
            return entry
    return None


def outputs_in(record, bucket: str) -> list[str]:
    """Keys the handler wrote into ``bucket`` (its own outputs, when it writes back into the source)."""
    return [
        e["outputKey"]
        for e in handler_results(record)
        if e.get("outputBucket") == bucket and isinstance(e.get("outputKey"), str)
    ]


def object_status(record, maximum_retry_attempts: int, bucket: str, key: str) -> tuple[str, str | None]:
    """(status, reason) as the gallery shows it: pending, running, retrying, done, skipped, failed."""
    if record is None:
        return "pending", "Uploaded; waiting for the S3 event to invoke the function."
    status = record.status
    if status == "pending":
        if record.attempt > 1:
            return "retrying", f"Attempt {record.attempt} of {maximum_retry_attempts + 1} is queued."
        return "pending", "The event is queued for the function."
    if status == "throttled":
        return "retrying", "Throttled: every allowed execution environment is busy; the event waits."
    if status == "running":
        return "running", None
    if status == "success":
        entry = result_for(record, bucket, key)
        if entry is None:
            return "done", (
                "The function succeeded, but its result names no output object, so the page "
                "cannot pair one with this image."
            )
        if entry.get("status") in (None, "resized"):
            return "done", None
        if entry.get("status") == "skipped":
            return "skipped", entry.get("reason")
        return "failed", entry.get("reason") or "The handler did not resize this object."
    reason = _error_text(record)
    if status == "dead-lettered":
        return "failed", f"{reason} Every attempt failed; the event is in the dead-letter queue."
    if status in FAILED_STATUSES and will_retry(record, maximum_retry_attempts):
        return "retrying", f"{reason} Lambda will retry (attempt {record.attempt + 1})."
    return "failed", reason


def _error_text(record) -> str:
    if record.status == "timeout" and not record.error_message:
        return "The function timed out."
    if record.status == "out of memory" and not record.error_message:
        return "The function ran out of memory."
    parts = [p for p in (record.error_type, record.error_message) if p]
    text = ": ".join(parts) if parts else f"The invocation ended with status {record.status}."
    return text if text.endswith((".", "!", "?")) else text + "."


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat() if epoch else None


def s3_object_of(record, bucket: str) -> str | None:
    """The key of the ``bucket`` object an S3 trigger's record is about, else None."""
    subject = record.subject or {}
    if record.source != S3_SOURCE or subject.get("bucket") != bucket or not subject.get("key"):
        return None
    return subject["key"]


def s3_event_facts(record) -> dict:
    """What the S3 event itself says of the object: eventName, size and ETag (the first record's)."""
    try:
        first = record.event["Records"][0]
        obj = first["s3"]["object"]
    except (KeyError, IndexError, TypeError):
        return {}
    return {
        "event_name": first.get("eventName") or "",
        "size": obj.get("size"),
        "etag": obj.get("eTag") or None,
        "key": unquote_plus(obj.get("key") or ""),
    }


def is_removal(record) -> bool:
    """An ``ObjectRemoved:*`` event: the object is gone from the bucket."""
    return s3_event_facts(record).get("event_name", "").startswith("ObjectRemoved")


def output_version(record) -> str:
    """The ``v`` of an output's URL: the invocation that wrote it, so a new invocation's output gets a
    new URL (the handler does not report the output's ETag)."""
    return f"r-{record.request_id}-{record.attempt}"


def gallery_item(record, bucket: str, maximum_retry_attempts: int = 2, stored: dict | None = None) -> dict:
    """One gallery item from the newest invocation record about an object of the source bucket.

    The object's size and ETag are S3's: ``stored`` (what S3's own event or its listing said of the object,
    the item's ``source``) when given, else the event's - which only S3's trigger writes from the object
    itself; an event made by hand (``generate-event``, a test event) may say anything."""
    key = record.subject["key"]
    status, reason = object_status(record, maximum_retry_attempts, bucket, key)
    entry = result_for(record, bucket, key) or {}
    facts = (
        s3_event_facts(record)
        if stored is None
        else {"size": stored.get("bytes"), "etag": stored.get("etag")}
    )
    source = {
        "bucket": bucket,
        "key": key,
        "bytes": facts.get("size"),
        "etag": facts.get("etag"),
        "width": entry.get("sourceWidth"),
        "height": entry.get("sourceHeight"),
        "orientation": entry.get("orientation"),
    }  # EXIF: browsers show 5-8 turned a quarter
    resized = None
    if status == "done" and entry.get("outputKey"):
        resized = {
            "bucket": entry.get("outputBucket"),
            "key": entry["outputKey"],
            "width": entry.get("width"),
            "height": entry.get("height"),
            "bytes": entry.get("bytes"),
            "version": output_version(record),
        }
    saving = None
    if resized and resized.get("bytes") is not None and source["bytes"]:
        saving = round(100.0 * (1 - resized["bytes"] / source["bytes"]), 1)
    return {
        "key": key,
        "uploaded": _iso(record.detected_at),
        "status": status,
        "reason": reason,
        "source": source,
        "resized": resized,
        "saving_pct": saving,
        "request_id": record.request_id,
        "attempt": record.attempt,
        "cold_start": record.cold_start,
        "duration_ms": record.duration_ms,
    }


def listed_item(bucket: str, obj: dict) -> dict:
    """An object found in the source bucket with no invocation recorded in this session (uploaded
    before the trigger saw it, or older than the records the session keeps)."""
    modified = obj.get("LastModified")
    return {
        "key": obj["Key"],
        "uploaded": modified.isoformat() if isinstance(modified, datetime) else None,
        "status": "not invoked",
        "reason": "In the bucket, but no invocation of it is recorded in this session (uploaded before "
        "the trigger saw it, or older than the records the session keeps).",
        "source": {
            "bucket": bucket,
            "key": obj["Key"],
            "bytes": obj.get("Size"),
            "etag": (obj.get("ETag") or "").strip('"') or None,
            "width": None,
            "height": None,
            "orientation": None,
        },
        "resized": None,
        "saving_pct": None,
        "request_id": None,
        "attempt": None,
        "cold_start": None,
        "duration_ms": None,
    }
