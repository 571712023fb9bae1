"""Watches the S3 API for completed writes, the way S3 itself decides to emit an event notification.

A small WSGI middleware around moto's S3 application. It sees every S3 request from any client (AWS CLI,
boto3, presigned POST from a browser, the page, the watched folder), lets moto do the work, and when
moto answered with success it reports an ``S3Write``: which operation happened (eventName), the object,
the caller's address, the request id (also returned to the client as ``x-amz-request-id``, as S3 does) and
the ``X-Amzn-Trace-Id`` header that carries a function's lineage for recursive loop detection.

S3 emits events only for completed writes: a multipart upload produces one event when it is completed,
not one per part; uploading a part, tagging or setting an ACL produce no ObjectCreated event.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qs
from xml.etree import ElementTree

from sandbox.event_sources.s3.events import (
    S3Write,
    Sequencer,
    new_host_id,
    new_s3_request_id,
    principal_for_access_key,
)
from sandbox.wsgi import read_body

ObjectFactsFn = Callable[[str, str, "str | None"], object]

# Query sub-resources that make a PUT/POST on an object something other than a new object.
_NOT_A_WRITE = {
    "tagging",
    "acl",
    "retention",
    "legal-hold",
    "uploads",
    "restore",
    "select",
    "attributes",
    "torrent",
}
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def _decoded_path(environ) -> str:
    # WSGI gives PATH_INFO percent-decoded, as latin-1 text of the original bytes.
    raw = environ.get("PATH_INFO", "")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def _bucket_and_key(environ) -> tuple[str | None, str]:
    path = _decoded_path(environ)
    host = (environ.get("HTTP_HOST") or "").split(":")[0]
    # Virtual-hosted style: <bucket>.s3.<...> or <bucket>.localhost
    for marker in (".s3.", ".s3-", ".localhost"):
        if marker in host and not host.startswith("s3."):
            return host.split(marker)[0], path.lstrip("/")
    parts = path.lstrip("/").split("/", 1)
    bucket = parts[0] or None
    key = parts[1] if len(parts) > 1 else ""
    return bucket, key


def _access_key(environ, form_fields: dict | None = None) -> str | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _CREDENTIAL.search(auth)
    if match:
        return match.group(1)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    for name in ("X-Amz-Credential", "AWSAccessKeyId"):
        if name in query:
            return query[name][0].split("/")[0]
    if form_fields:
        for name in ("x-amz-credential", "AWSAccessKeyId"):
            for field_name, value in form_fields.items():
                if field_name.lower() == name.lower():
                    return value.split("/")[0]
    return None


def deleted_keys(body: bytes) -> list[str]:
    """The keys a DeleteObjects request names (its XML body)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    return [el.text or "" for el in root.iter() if el.tag.endswith("Key")]


def _removal(query: dict, headers: dict, key: str) -> tuple[str, str, str | None]:
    """A DeleteObject's event, as S3 names it: deleting a version (``versionId``) is
    ``ObjectRemoved:Delete`` with that version; deleting without one in a versioned (or suspended) bucket
    makes a delete marker, ``ObjectRemoved:DeleteMarkerCreated`` with the marker's version; in an
    unversioned bucket ``ObjectRemoved:Delete`` without a version."""
    if query.get("versionId"):
        return "ObjectRemoved:Delete", key, query["versionId"][0]
    if headers.get("x-amz-delete-marker") == "true":
        return "ObjectRemoved:DeleteMarkerCreated", key, headers.get("x-amz-version-id")
    return "ObjectRemoved:Delete", key, None


def removals(body: bytes) -> list[tuple[str, str, str | None]]:
    """A DeleteObjects answer's ``Deleted`` entries as events (named as in ``_removal``); the keys it
    could not delete (``Errors``) make none."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    found = []
    for deleted in (el for el in root.iter() if el.tag.split("}")[-1] == "Deleted"):
        fields = {child.tag.split("}")[-1]: child.text or "" for child in deleted}
        if fields.get("VersionId"):
            found.append(("ObjectRemoved:Delete", fields.get("Key", ""), fields["VersionId"]))
        elif fields.get("DeleteMarker") == "true":
            found.append(
                (
                    "ObjectRemoved:DeleteMarkerCreated",
                    fields.get("Key", ""),
                    fields.get("DeleteMarkerVersionId") or None,
                )
            )
        else:
            found.append(("ObjectRemoved:Delete", fields.get("Key", ""), None))
    return found


def form_key(fields: dict, filename: str | None) -> str:
    """The key a presigned POST form names, ``${filename}`` filled in as S3 does."""
    key = fields.get("key", "")
    return key.replace("${filename}", filename) if filename is not None else key


def _form_fields(environ, body: bytes) -> tuple[dict, str | None]:
    """The text fields of a presigned POST form, and the uploaded file's name."""
    from werkzeug.formparser import parse_form_data

    copy = dict(environ)
    copy["wsgi.input"] = io.BytesIO(body)
    _, form, files = parse_form_data(copy)
    filename = files["file"].filename if "file" in files else None
    return {k: form[k] for k in form}, filename


class S3WriteObserver:
    """WSGI middleware: ``S3WriteObserver(moto_s3_app, on_write, object_facts)``.

    ``on_write(S3Write)`` is called after moto has stored the object and before the response is sent;
    it must be quick (the sandbox only queues the event). ``on_notification_change(bucket)`` is called
    when a bucket's notification configuration is replaced, so cached configurations are dropped.
    """

    def __init__(
        self,
        app,
        on_write: Callable[[S3Write], None],
        object_facts: ObjectFactsFn,
        on_notification_change: Callable[[str], None] | None = None,
        clock=time.time,
        sequencer: Sequencer | None = None,
    ):
        self.app = app
        self.on_write = on_write
        self.object_facts = object_facts
        self.on_notification_change = on_notification_change or (lambda bucket: None)
        self.clock = clock
        self.sequencer = sequencer or Sequencer()

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("PUT", "POST", "DELETE"):
            return self.app(environ, start_response)
        bucket, key = _bucket_and_key(environ)
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        request_id, host_id = new_s3_request_id(), new_host_id()
        status_holder: list[int] = []
        response_headers: dict[str, str] = {}

        def start(status, headers, exc_info=None):
            status_holder.append(int(status.split()[0]))
            response_headers.update((name.lower(), value) for name, value in headers)
            names = {name.lower() for name, _ in headers}
            headers = list(headers)
            if "x-amz-request-id" not in names:
                headers += [("x-amz-request-id", request_id), ("x-amz-id-2", host_id)]
            return start_response(status, headers, exc_info)

        plan = self._plan(method, bucket, key, query, environ)
        result = self.app(environ, start)
        if plan is None or not status_holder or not 200 <= status_holder[0] < 300:
            return result
        kind, bucket, keys, access_key = plan
        if kind == "notification":
            self.on_notification_change(bucket)
            return result
        if kind == "delete":  # what was removed is in moto's answer: a version, or a new delete marker
            body = b"".join(result)
            getattr(result, "close", lambda: None)()
            result = [body]
            keys = removals(result[0]) if not key else [_removal(query, response_headers, key)]
        source_ip = environ.get("REMOTE_ADDR", "127.0.0.1")
        for event_name, obj_key, *version in keys:
            self._report(
                event_name,
                bucket,
                obj_key,
                request_id,
                host_id,
                source_ip,
                access_key,
                environ,
                version[0] if version else None,
            )
        return result

    # -- classify the request before moto sees it (the body may be needed) ---------------------------
    def _plan(self, method, bucket, key, query, environ):
        if not bucket:
            return None
        if not key:
            if method == "PUT" and "notification" in query:
                return ("notification", bucket, [], None)
            if method == "POST" and "delete" in query:
                return ("delete", bucket, [], _access_key(environ))  # the removals: in moto's answer
            if method == "POST" and "multipart/form-data" in (environ.get("CONTENT_TYPE") or ""):
                fields, filename = _form_fields(environ, read_body(environ))
                key = form_key(fields, filename)
                if not key:
                    return None
                return ("write", bucket, [("ObjectCreated:Post", key)], _access_key(environ, fields))
            return None
        if _NOT_A_WRITE & set(query):
            return None
        access_key = _access_key(environ)
        if method == "PUT":
            if "uploadId" in query or "partNumber" in query:
                return None  # UploadPart / UploadPartCopy: no event until the upload completes
            if environ.get("HTTP_X_AMZ_COPY_SOURCE"):
                return ("write", bucket, [("ObjectCreated:Copy", key)], access_key)
            return ("write", bucket, [("ObjectCreated:Put", key)], access_key)
        if method == "POST" and "uploadId" in query:
            return ("write", bucket, [("ObjectCreated:CompleteMultipartUpload", key)], access_key)
        if method == "DELETE" and "uploadId" not in query:
            return ("delete", bucket, [], access_key)
        return None

    def _report(
        self, event_name, bucket, key, request_id, host_id, source_ip, access_key, environ, version_id=None
    ):
        facts = None
        if event_name.startswith("ObjectCreated"):
            facts = self.object_facts(bucket, key, None)
            if facts is None:
                return  # not stored after all (for example a failed condition): S3 sends no event
        write = S3Write(
            event_name=event_name,
            bucket=bucket,
            key=key,
            size=getattr(facts, "size", None),
            etag=getattr(facts, "etag", None),
            version_id=getattr(facts, "version_id", None) if facts is not None else version_id,
            request_id=request_id,
            host_id=host_id,
            source_ip=source_ip,
            principal_id=principal_for_access_key(access_key),
            trace_header=environ.get("HTTP_X_AMZN_TRACE_ID"),
            sequencer=self.sequencer.next(),
            event_time=self.clock(),
        )
        self.on_write(write)
