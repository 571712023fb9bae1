"""A gallery pair's own log lines: every attempt of the invocations that made what the pair shows, each
with its lines as CloudWatch Logs holds them (START ... END, REPORT; a cold start's INIT before them).

Read when a pair is opened, not for every card: the gallery's cards and the change feed carry no log
lines. Which invocations belong to the pair is decided as the gallery decides which record it shows
(web/feed/): the newest upload of the object (an S3 event), its retries (which keep the request id), and
what was invoked about the object since - a redrive of its dead-lettered event, a test event naming it.
"""

from __future__ import annotations

from sandbox.interface import log_group_name
from web.attempt_logs import attempt_log, shortened
from web.gallery import UPLOAD_TRIGGERS, is_removal, s3_object_of
from web.rows import invocation_row
from web.stages import guide_stages, invocation_kind

# Re-invoking one object by hand again and again (a test event, repeated redrives) could make a long
# history; the pair shows the newest attempts and says how many earlier ones it left out.
MAX_ATTEMPTS = 12


def pair_records(records: list, bucket: str, key: str) -> list:
    """The records (oldest first) of the invocations behind the pair the gallery shows for ``bucket/key``:
    from its newest upload on. An older upload's retries that run after a newer upload are not this pair's.
    ``records``: the session's records, oldest first (``InvocationLog.all()``)."""
    about = [r for r in records if s3_object_of(r, bucket) == key]
    first: dict[str, int] = {}  # request id -> where its first attempt is (its retries come later)
    for index, record in enumerate(about):
        first.setdefault(record.request_id, index)
    uploads = [
        index
        for index in first.values()
        if about[index].trigger in UPLOAD_TRIGGERS and not is_removal(about[index])
    ]
    if not uploads:
        return []
    start = max(uploads)
    return [r for r in about[start:] if first[r.request_id] >= start and not is_removal(r)]


def pair_log(sb, bucket: str, key: str, maximum_retry_attempts: int) -> dict:
    """The pair's invocations, oldest first, each attempt as an Invocations row with its ``logs``."""
    records = pair_records(sb.records.all(), bucket, key)
    by_request: dict[str, list] = {}  # a request's attempts, to tell its lines apart (retries keep its id)
    for record in records:
        by_request.setdefault(record.request_id, []).append(record)
    omitted = max(0, len(records) - MAX_ATTEMPTS)
    chosen = records[omitted:]
    events: dict[str, list] = {}
    attempts = []
    for record in chosen:
        if record.request_id not in events:  # one read of the log lines per request, for all its attempts
            events[record.request_id] = sb.log_events(
                group=log_group_name(record.function_name), request_id=record.request_id
            )
        lines, left_out, after = shortened(
            attempt_log(sb, record, by_request[record.request_id], events[record.request_id])
        )
        row = invocation_row(record, maximum_retry_attempts)
        row.update(
            log_group=log_group_name(record.function_name),
            logs=lines,
            lines_left_out=left_out,
            lines_left_out_after=after,
            stages=guide_stages(record, maximum_retry_attempts),
            kind=invocation_kind(record),
        )
        attempts.append(row)
    return {"bucket": bucket, "key": key, "attempts": attempts, "attempts_left_out": omitted}


def object_facts(s3, bucket: str | None, key: str | None) -> dict | None:
    """What S3 itself says of an object (HeadObject): its size and ETag; None when it is not there. The
    event's own ``size`` is what was uploaded then, not what the bucket holds now."""
    if not bucket or not key:
        return None
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except Exception:  # gone, or never written: the pair says so
        return None
    return {"bucket": bucket, "key": key, "bytes": head.get("ContentLength"), "etag": head.get("ETag")}
