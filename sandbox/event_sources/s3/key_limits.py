"""S3's limit on object keys: at most 1,024 bytes of UTF-8.

A WSGI middleware around moto's S3 application (moto stores any key). A request that would create an
object under a longer key (PutObject, CopyObject, CreateMultipartUpload, a presigned POST form) is
answered as S3 answers it: 400 ``KeyTooLongError``, and nothing is stored.
"""

from __future__ import annotations

from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from sandbox.endpoint.s3_ids import new_host_id, new_s3_request_id
from sandbox.event_sources.s3.write_observer import _bucket_and_key, _form_fields, form_key
from sandbox.wsgi import read_body

KEY_LIMIT_BYTES = 1024


def _created_key(environ) -> str | None:
    """The key a request would create an object under, or None for any other request."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method not in ("PUT", "POST"):
        return None
    bucket, key = _bucket_and_key(environ)
    if not bucket:
        return None
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if key:
        if method == "PUT" and not (
            {"uploadId", "partNumber", "tagging", "acl", "retention", "legal-hold"} & set(query)
        ):
            return key  # PutObject, CopyObject
        return key if method == "POST" and "uploads" in query else None  # CreateMultipartUpload
    if method == "POST" and "multipart/form-data" in (environ.get("CONTENT_TYPE") or ""):
        fields, filename = _form_fields(environ, read_body(environ))
        return form_key(fields, filename)
    return None


def _drain(environ) -> None:
    """Read what is left of the body in pieces, so the client hears the answer, not a reset connection."""
    stream = environ.get("wsgi.input")
    try:
        left = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        left = 0
    while stream is not None and left > 0:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            break
        left -= len(chunk)


class S3KeyLimits:
    """``S3KeyLimits(moto_s3_app)``: refuses keys longer than S3 allows before moto stores them."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        key = _created_key(environ)
        size = len(key.encode("utf-8")) if key else 0
        if size <= KEY_LIMIT_BYTES:
            return self.app(environ, start_response)
        _drain(environ)
        request_id, host_id = new_s3_request_id(), new_host_id()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>KeyTooLongError</Code>'
            f"<Message>Your key is too long</Message><Size>{size}</Size>"
            f"<MaxSizeAllowed>{KEY_LIMIT_BYTES}</MaxSizeAllowed><RequestId>{request_id}</RequestId>"
            f"<HostId>{escape(host_id)}</HostId></Error>"
        ).encode()
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "application/xml"),
                ("Content-Length", str(len(body))),
                ("x-amz-request-id", request_id),
                ("x-amz-id-2", host_id),
            ],
        )
        return [body]
