"""The events API Gateway sends a function, built from one HTTP request.

- Payload format 2.0 (HTTP APIs): ``version``, ``routeKey``, ``rawPath``, ``rawQueryString``, ``cookies``,
  ``headers`` (lower-case names, repeated values comma-joined, cookies moved out), ``queryStringParameters``
  (repeated values comma-joined), ``pathParameters``, ``stageVariables``, ``requestContext``, ``body``,
  ``isBase64Encoded``; absent parts are left out. The path arrives decoded; a body is base64-encoded
  unless its content type is text.
- Payload format 1.0 (REST APIs' Lambda proxy integrations, and HTTP APIs that ask for it): ``resource``,
  ``path``, ``httpMethod``, ``headers`` and ``multiValueHeaders``, ``queryStringParameters`` and
  ``multiValueQueryStringParameters``, ``pathParameters``, ``stageVariables``, ``requestContext``,
  ``body``, ``isBase64Encoded``; absent parts are ``null``. A REST API passes the path still
  percent-encoded and base64-encodes a body only when its content type is one of the API's
  ``binaryMediaTypes``.

Where the sandbox differs: header names reach payload 1.0 in canonical case (``Content-Type``), since the
WSGI server keeps no original case; repeated headers arrive comma-joined, as one value.
"""
from __future__ import annotations

import base64
import fnmatch
import os
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from ...config import ACCOUNT_ID

# Bodies of these types reach a payload 2.0 event as text; any other body is base64-encoded.
_TEXT_TYPES = ("text/*", "application/json", "application/*+json", "application/javascript", "application/xml",
               "application/*+xml")


@dataclass
class ApiRequest:
    """One request to an API, as the gateway saw it."""

    method: str
    path: str  # after the stage, percent-encoded as sent: "/items/a%20b"
    stage_prefix: str  # "/prod" for a named stage, "" for $default
    query_string: str  # as sent, without "?"
    headers: list  # [(name, value)], lower-case names, in order
    body: bytes
    source_ip: str
    domain_name: str  # "<api-id>.execute-api.localhost"
    port: str = "80"  # the port the client called
    protocol: str = "HTTP/1.1"
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ",".join(values) if values else None

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


def new_request_ids() -> tuple[str, str]:
    """(request id, extended request id): REST APIs use a UUID and a short base64 id; HTTP APIs the latter."""
    import uuid

    return str(uuid.uuid4()), base64.b64encode(os.urandom(10)).decode()


def _times(request: ApiRequest) -> tuple[str, int]:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request.received_at))
    return stamp, int(request.received_at * 1000)


def _forwarded(request: ApiRequest, headers: list) -> list:
    """What API Gateway adds: the client's address and port, the scheme, a trace id."""
    added = [("x-forwarded-for", request.source_ip), ("x-forwarded-port", request.port), ("x-forwarded-proto", "http")]
    if not any(k == "x-amzn-trace-id" for k, _ in headers):
        added.append(("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"))
    return [(k, v) for k, v in headers if k not in {a for a, _ in added}] + added


def is_text(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return any(fnmatch.fnmatchcase(media, pattern) for pattern in _TEXT_TYPES)


def matches_media_types(content_type: str | None, media_types) -> bool:
    """Whether a Content-Type (or an Accept header's types) is one of a REST API's binaryMediaTypes."""
    wanted = [m.strip().lower() for m in (content_type or "").split(",") if m.strip()]
    wanted = [m.split(";")[0].strip() for m in wanted]
    return any(fnmatch.fnmatchcase(w, p.lower()) or fnmatch.fnmatchcase(p.lower(), w)
               for w in wanted for p in media_types)


def _query(request: ApiRequest) -> list[tuple[str, str]]:
    return parse_qsl(request.query_string, keep_blank_values=True)


def http_api_event(request: ApiRequest, api_id: str, route_key: str, stage: str, path_parameters: dict,
                   stage_variables: dict, request_id: str) -> dict:
    """Payload format 2.0."""
    stamp, epoch_ms = _times(request)
    raw_path = unquote(request.stage_prefix + request.path) or "/"
    headers, cookies = {}, []
    for name, value in _forwarded(request, request.headers):
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for name, value in _query(request):
        query[name] = f"{query[name]},{value}" if name in query else value
    event = {"version": "2.0", "routeKey": route_key, "rawPath": raw_path, "rawQueryString": request.query_string}
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID, "apiId": api_id, "domainName": request.domain_name,
        "domainPrefix": api_id,
        "http": {"method": request.method, "path": raw_path, "protocol": request.protocol,
                 "sourceIp": request.source_ip, "userAgent": request.header("user-agent") or ""},
        "requestId": request_id, "routeKey": route_key, "stage": stage, "time": stamp, "timeEpoch": epoch_ms}
    if path_parameters:
        event["pathParameters"] = path_parameters
    if stage_variables:
        event["stageVariables"] = stage_variables
    if request.body:
        binary = not is_text(request.header("content-type"))
        event["body"] = base64.b64encode(request.body).decode() if binary else request.body.decode("utf-8", "replace")
        event["isBase64Encoded"] = binary
    else:
        event["isBase64Encoded"] = False
    return event


def _canonical(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def proxy_event(request: ApiRequest, api_id: str, route, stage: str, path_parameters: dict, stage_variables: dict,
                request_ids: tuple[str, str], binary_media_types=(), http_api: bool = False) -> dict:
    """Payload format 1.0: a REST API's Lambda proxy integration (``http_api``: an HTTP API asking for 1.0,
    which passes the path decoded and always base64-encodes non-text bodies)."""
    stamp, epoch_ms = _times(request)
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in _forwarded(request, request.headers):
        name = _canonical(name)
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in _query(request):
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    path = unquote(request.path) if http_api else request.path
    body = None
    binary = False
    if request.body:
        content_type = request.header("content-type")
        binary = (not is_text(content_type)) if http_api else matches_media_types(content_type, binary_media_types)
        body = base64.b64encode(request.body).decode() if binary else request.body.decode("utf-8", "replace")
    identity = {key: None for key in ("accessKey", "accountId", "caller", "cognitoAuthenticationProvider",
                                      "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId",
                                      "principalOrgId", "user", "userArn")}
    identity.update(sourceIp=request.source_ip, userAgent=request.header("user-agent"))
    request_id, extended = request_ids
    context = {
        "accountId": ACCOUNT_ID, "apiId": api_id, "domainName": request.domain_name,
        "domainPrefix": api_id, "extendedRequestId": extended, "httpMethod": request.method, "identity": identity,
        "path": (unquote if http_api else str)(request.stage_prefix + request.path) or "/",
        "protocol": request.protocol, "requestId": request_id, "requestTime": stamp, "requestTimeEpoch": epoch_ms,
        "resourceId": route.id, "resourcePath": route.path or "/", "stage": stage}
    if http_api:
        context["routeKey"] = route.key
    event = {"resource": route.path or "/", "path": path or "/", "httpMethod": request.method,
             "headers": headers, "multiValueHeaders": multi_headers,
             "queryStringParameters": query or None, "multiValueQueryStringParameters": multi_query or None,
             "requestContext": context, "pathParameters": path_parameters or None,
             "stageVariables": stage_variables or None, "body": body, "isBase64Encoded": binary}
    if http_api:
        event = {"version": "1.0", **event}
    return event
