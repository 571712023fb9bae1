"""S3 event notification records, shaped exactly as AWS sends them to Lambda.

moto's own notification records lack userIdentity, requestParameters, responseElements, ownerIdentity
and sequencer, so the sandbox builds its own from what the S3 write observer saw. The shape is checked in
the tests against the strict, independent model ``aws_lambda_powertools...models.S3Model``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote_plus

from sandbox.config import DEFAULT_REGION, TRIGGER_ID
from sandbox.endpoint.s3_ids import new_host_id, new_s3_request_id  # noqa: F401 (part of this module's API)

# The bucket owner's canonical principal, as S3 shows it in ownerIdentity (an upper-case id).
OWNER_PRINCIPAL_ID = "A3NL1KOZZKEXAMPLE"


@dataclass(frozen=True)
class S3Write:
    """One completed write (or delete) that the S3 endpoint accepted: what the event is built from."""

    event_name: str  # "ObjectCreated:Put", without the "s3:" prefix, as in the record's eventName
    bucket: str
    key: str  # decoded, as stored
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    request_id: str = ""
    host_id: str = ""
    source_ip: str = "127.0.0.1"
    principal_id: str = "AWS:AIDAEXAMPLEUSER0001"
    trace_header: str | None = None  # X-Amzn-Trace-Id of the request (lineage for loop detection)
    sequencer: str = ""
    event_time: float = field(default_factory=time.time)


def form_encode_key(key: str) -> str:
    """The key as S3 puts it in an event: form-encoded, '/' kept (space → '+', '+' → '%2B', ':' → '%3A').

    Handlers must decode it with ``urllib.parse.unquote_plus``; the guide's handler does not, which is why
    a key with a space fails there with NoSuchKey.
    """
    return quote_plus(key, safe="/")


def principal_for_access_key(access_key_id: str | None) -> str:
    """userIdentity.principalId for a caller. AWS shows the IAM user or role id; the sandbox has no real
    identities, so it derives a stable, AWS-shaped id from the access key id."""
    digest = hashlib.sha1((access_key_id or "anonymous").encode()).hexdigest().upper()
    return f"AWS:AIDA{digest[:17]}"


class Sequencer:
    """Per-key ordering token. AWS's sequencer is an opaque hex string that only orders events of one key
    (left-pad to equal length, then compare); the sandbox makes it from a clock plus a counter, so it
    always increases within one sandbox run."""

    def __init__(self, clock=time.time_ns):
        self._clock = clock
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        with self._lock:
            value = max(self._clock() // 1000, self._last + 1)
            self._last = value
        return f"{value:016X}"


def event_time_iso(epoch_seconds: float) -> str:
    """'2026-11-27T01:25:09.230Z': UTC with milliseconds, as in eventTime."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def build_record(write: S3Write, configuration_id: str, region: str = DEFAULT_REGION) -> dict:
    """One record of ``event["Records"]`` for a write, every field AWS sends."""
    obj: dict = {"key": form_encode_key(write.key)}
    if write.event_name.startswith("ObjectCreated"):
        obj["size"] = int(write.size or 0)
        obj["eTag"] = write.etag or ""
    # versionId appears only when the bucket has versioning on; removals carry key, versionId, sequencer.
    if write.version_id:
        obj["versionId"] = write.version_id
    obj["sequencer"] = write.sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": event_time_iso(write.event_time),
        "eventName": write.event_name,
        "userIdentity": {"principalId": write.principal_id},
        "requestParameters": {"sourceIPAddress": write.source_ip},
        "responseElements": {"x-amz-request-id": write.request_id, "x-amz-id-2": write.host_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": write.bucket,
                "ownerIdentity": {"principalId": OWNER_PRINCIPAL_ID},
                "arn": f"arn:aws:s3:::{write.bucket}",
            },
            "object": obj,
        },
    }


def build_event(write: S3Write, configuration_id: str, region: str = DEFAULT_REGION) -> dict:
    """The whole event Lambda receives: S3 sends one record per object."""
    return {"Records": [build_record(write, configuration_id, region)]}


def sample_put_event(
    bucket: str, key: str, size: int = 1024, region: str = DEFAULT_REGION, etag: str | None = None
) -> dict:
    """A complete ObjectCreated:Put event for ``run_local.py generate-event s3-put`` (like
    ``sam local generate-event s3 put``)."""
    write = S3Write(
        event_name="ObjectCreated:Put",
        bucket=bucket,
        key=key,
        size=size,
        etag=etag or hashlib.md5(key.encode()).hexdigest(),
        request_id=new_s3_request_id(),
        host_id=new_host_id(),
        principal_id=principal_for_access_key("test"),
        sequencer=Sequencer().next(),
    )
    return build_event(write, configuration_id=TRIGGER_ID, region=region)
