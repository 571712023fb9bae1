"""What an AWS API request does to state, told from the request alone: its operation name, whether it
changes anything, and, for S3, which objects it touches.

AWS's protocols name the operation in different places: ``X-Amz-Target`` (JSON: SQS, DynamoDB, Logs,
EventBridge), ``Action`` in the query or form body (query: IAM, STS, CloudWatch), the last path segment
(CloudWatch's CBOR protocol), or only the HTTP method and path (REST: S3, Lambda, API Gateway).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs

# Operations that read. Everything else changes state (as AWS's own IAM read/write access levels do).
READ_PREFIXES = (
    "Get",
    "List",
    "Describe",
    "Head",
    "Query",
    "Scan",
    "BatchGet",
    "Filter",
    "Test",
    "Lookup",
    "Search",
    "Select",
    "Check",
    "Validate",
    "Simulate",
    "Estimate",
    "Preview",
    "Download",
    "Decode",
    "Invoke",
    "AssumeRole",
    "Poll",
    "StartQuery",
    "StopQuery",
)
# Operations that change state but are not written: a message received (its visibility and receive
# count) comes back visible after a restart, as after a visibility timeout: delivered again, at least
# once, which is what SQS promises anyway. Writing the queue on every receive would double the cost of
# every poll.
NOT_WRITTEN = {"ReceiveMessage", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"}
# Services whose operations grow state in small steps: the request is kept and replayed, not the service.
# CloudWatch Logs' group and stream creation too: every new execution environment makes a stream, and
# writing the whole log service for it would cost more the more lines were kept.
APPENDED = {
    ("logs", "PutLogEvents"),
    ("logs", "CreateLogGroup"),
    ("logs", "CreateLogStream"),
    ("cloudwatch", "PutMetricData"),
}


@dataclass
class Operation:
    service: str
    name: str  # the AWS operation, or "<METHOD> <path>" for REST services
    writes: bool
    appended: bool = False
    # S3 only: the keys whose versions to write, and whether the bucket (its configuration) changed.
    s3_bucket: str | None = None
    s3_keys: list[str] = field(default_factory=list)
    s3_bucket_changed: bool = False


def operation(service: str, environ, body: bytes) -> Operation:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    if service == "s3":
        return _s3_operation(environ, method, body)
    name = _operation_name(environ, body)
    if name is None:  # REST: the method tells
        path = environ.get("PATH_INFO", "")
        writes = method not in ("GET", "HEAD", "OPTIONS") and not path.rstrip("/").endswith(
            ("/invocations", "/response-streaming-invocations")
        )
        return Operation(service, f"{method} {path}", writes)
    writes = not name.startswith(READ_PREFIXES) and name not in NOT_WRITTEN
    return Operation(service, name, writes, appended=(service, name) in APPENDED)


def _operation_name(environ, body: bytes) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    if environ.get("HTTP_SMITHY_PROTOCOL"):  # rpc-v2-cbor: /service/<svc>/operation/<Op>
        return environ.get("PATH_INFO", "").rstrip("/").rsplit("/", 1)[-1]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    if "x-www-form-urlencoded" in (environ.get("CONTENT_TYPE") or ""):
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0]
    return None


def _s3_operation(environ, method: str, body: bytes) -> Operation:
    from sandbox.event_sources.s3.write_observer import (
        _bucket_and_key,
        _decoded_path,
        _form_fields,
        deleted_keys,
        form_key,
    )

    bucket, key = _bucket_and_key(environ)
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    op = Operation(
        "s3", f"{method} {_decoded_path(environ)}", method in ("PUT", "POST", "DELETE"), s3_bucket=bucket
    )
    if not op.writes or bucket is None:
        return op
    if key:
        if "tagging" in query or environ.get("HTTP_X_AMZ_TAGGING"):
            op.s3_bucket_changed = True  # moto keeps object tags in the backend's tagger, not on the key
        if "partNumber" in query or "uploads" in query:
            # A multipart upload in progress (CreateMultipartUpload, UploadPart) is not written: it is not
            # an object yet, and writing the bucket with every part would write an upload's size many
            # times over. After a crash the client's CompleteMultipartUpload gets NoSuchUpload and its
            # tool starts the upload again (the AWS CLI and boto3 do).
            op.writes = False
        elif "uploadId" in query:
            op.s3_bucket_changed = True  # the upload is gone from the bucket...
            if method == "POST":  # ... and CompleteMultipartUpload made the object
                op.s3_keys.append(key)
        else:
            op.s3_keys.append(key)
        return op
    if method == "POST" and "delete" in query:  # DeleteObjects names its keys in the body
        op.s3_keys.extend(deleted_keys(body))
    elif method == "POST" and "multipart/form-data" in (environ.get("CONTENT_TYPE") or ""):
        key = form_key(*_form_fields(environ, body))  # a browser's presigned POST upload
        if key:
            op.s3_keys.append(key)
        else:
            op.s3_bucket_changed = True
    else:
        op.s3_bucket_changed = True
    return op


_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
_KEEP_HEADERS = re.compile(r"^(content-type|x-amz-target|smithy-protocol|content-encoding|host)$", re.I)


def recorded_request(environ, body: bytes) -> dict:
    """What replaying the request needs: method, path, query, the headers that select the operation."""
    headers = []
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            header = name[5:].replace("_", "-").lower()
            if _KEEP_HEADERS.match(header):
                headers.append((header, value))
    if environ.get("CONTENT_TYPE"):
        headers.append(("content-type", environ["CONTENT_TYPE"]))
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return {
        "method": environ.get("REQUEST_METHOD", "POST"),
        "path": environ.get("PATH_INFO", "/"),
        "query": environ.get("QUERY_STRING", ""),
        "headers": headers,
        "body": body,
        "region": scope.group(1) if scope else None,
    }
