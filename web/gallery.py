"""The gallery: each source object beside its resized result, with the status of its invocation.

Pure functions over plain data (S3 listings as boto3 returns them, InvocationRecords), so they are
tested without a server. The S3 reads happen in views/gallery.py.
"""
from __future__ import annotations

import json
from datetime import datetime

FAILED_STATUSES = {"error", "timeout", "out of memory"}


def will_retry(record, maximum_retry_attempts: int) -> bool:
    """An asynchronous attempt that failed is retried while attempts remain (as Lambda does for S3)."""
    return (record.invocation_type == "Event" and record.status in FAILED_STATUSES
            and record.attempt <= maximum_retry_attempts)


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
        if entry is None or entry.get("status") in (None, "resized"):
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


def _timestamp(value) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value or 0)


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def build_gallery(source_bucket: str, source_objects: list[dict], outputs: dict[tuple[str, str], dict],
                  records: list, maximum_retry_attempts: int = 2, default_prefix: str = "resized-",
                  default_destination: str = "resized-image-bucket123", limit: int = 200) -> list[dict]:
    """One item per source object, newest first.

    ``source_objects``: ``Contents`` entries of the source bucket; ``outputs``: (bucket, key) ->
    ``Contents`` entry of every object in the destination bucket(s); ``records``: InvocationRecords,
    newest first.
    """
    latest: dict[tuple[str, str], object] = {}
    output_keys_in_source: set[str] = set()
    for record in records:
        obj = (record.subject["bucket"], record.subject["key"]) if "key" in record.subject else None
        if obj is not None and obj not in latest:
            latest[obj] = record
        for entry in handler_results(record):
            if entry.get("outputBucket") == source_bucket and entry.get("outputKey"):
                output_keys_in_source.add(entry["outputKey"])

    items = []
    for obj in source_objects:
        key = obj["Key"]
        if key in output_keys_in_source:
            continue  # the function's own output, written back into the source bucket
        record = latest.get((source_bucket, key))
        status, reason = object_status(record, maximum_retry_attempts, source_bucket, key)
        entry = result_for(record, source_bucket, key) if record is not None else None
        source = {"bucket": source_bucket, "key": key, "bytes": obj.get("Size"),
                  "etag": (obj.get("ETag") or "").strip('"'), "width": None, "height": None}
        resized = None
        if entry is not None:
            source["width"], source["height"] = entry.get("sourceWidth"), entry.get("sourceHeight")
            source["orientation"] = entry.get("orientation")  # EXIF: browsers show 5-8 turned a quarter
            if entry.get("outputKey"):
                out = (entry.get("outputBucket") or default_destination, entry["outputKey"])
                listed = outputs.get(out)
                resized = {"bucket": out[0], "key": out[1], "width": entry.get("width"),
                           "height": entry.get("height"),
                           "bytes": listed.get("Size") if listed else entry.get("bytes"),
                           "etag": (listed.get("ETag") or "").strip('"') if listed else None,
                           "exists": listed is not None}
        if resized is None and status in ("done", "failed", "skipped"):
            # A handler that returns nothing we understand (the guide's own, for one): look for
            # its output under the guide's name.
            out = (default_destination, default_prefix + key)
            listed = outputs.get(out)
            if listed is not None and status == "done":
                resized = {"bucket": out[0], "key": out[1], "width": None, "height": None,
                           "bytes": listed.get("Size"), "etag": (listed.get("ETag") or "").strip('"'),
                           "exists": True}
        saving = None
        if resized and resized.get("bytes") is not None and source["bytes"]:
            saving = round(100.0 * (1 - resized["bytes"] / source["bytes"]), 1)
        items.append({
            "key": key,
            "uploaded": _iso(obj.get("LastModified")),
            "status": status,
            "reason": reason,
            "source": source,
            "resized": resized,
            "saving_pct": saving,
            "request_id": record.request_id if record is not None else None,
            "attempt": record.attempt if record is not None else None,
            "cold_start": record.cold_start if record is not None else None,
            "duration_ms": record.duration_ms if record is not None else None,
            "_order": (_timestamp(obj.get("LastModified")), record.detected_at if record is not None else float("inf")),
        })
    items.sort(key=lambda item: item["_order"], reverse=True)
    for item in items:
        del item["_order"]
    return items[:limit]
