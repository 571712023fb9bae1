"""The events S3 sends the default bus when a bucket's notification configuration has
``EventBridgeConfiguration: {}``: source ``aws.s3``, detail-type "Object Created" or "Object Deleted",
the bucket's ARN in ``resources`` and the object in ``detail``, as AWS documents them
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)."""

from __future__ import annotations

import time
import uuid

from sandbox.event_sources.eventbridge.source import iso_time

# S3's event name (the suffix after ObjectCreated:/ObjectRemoved:) -> the request named in ``reason``
REASONS = {
    "Put": "PutObject",
    "Post": "PostObject",
    "Copy": "CopyObject",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
    "Delete": "DeleteObject",
    "DeleteMarkerCreated": "DeleteObject",
}
_sequence = [0]


def sequencer(at: float) -> str:
    """An ordering token of the same form as S3's (upper-case hex), growing with each event."""
    _sequence[0] += 1
    return f"{int(at * 1000):012X}{_sequence[0] % 0xFFFFFF:06X}"


def s3_event(facts: dict, requester: str) -> dict | None:
    """The EventBridge event for one S3 object event; None for events S3 does not send as these."""
    name = facts["event_name"]
    kind = name.split(":")[1] if name.count(":") >= 2 else ""
    action = name.rsplit(":", 1)[-1]
    if kind == "ObjectCreated":
        detail_type = "Object Created"
    elif kind == "ObjectRemoved":
        detail_type = "Object Deleted"
    else:
        return None
    obj = {"key": facts["key"]}
    if detail_type == "Object Created" and facts.get("size") is not None:
        obj["size"] = facts["size"]
    obj["etag"] = facts["etag"]
    if facts.get("version_id"):
        obj["version-id"] = facts["version_id"]
    obj["sequencer"] = sequencer(facts["at"])
    detail = {
        "version": "0",
        "bucket": {"name": facts["bucket"]},
        "object": obj,
        "request-id": facts["request_id"],
        "requester": requester,
        "source-ip-address": "127.0.0.1",
        "reason": REASONS.get(action, action),
    }
    if detail_type == "Object Deleted":
        detail["deletion-type"] = (
            "Delete Marker Created" if facts.get("delete_marker") else "Permanently Deleted"
        )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": facts["account"],
        "time": iso_time(facts.get("at") or time.time()),
        "region": facts["region"],
        "resources": [f"arn:aws:s3:::{facts['bucket']}"],
        "detail": detail,
    }
