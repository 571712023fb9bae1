"""The events API Gateway sends a function, built from one HTTP request.

Payload format 2.0 (HTTP APIs) and payload format 1.0 (REST APIs' Lambda proxy integrations, and HTTP
APIs that ask for it), each with API Gateway's rules for header case, repeated values, path encoding and
base64 bodies. Without the endpoint's raw headers (``environ["sandbox.raw_headers"]``) a REST API's
header names arrive in canonical case and repeated headers comma-joined.

The fields of each format and their rules: docs/event-sources.md.
"""

from __future__ import annotations

import base64
import fnmatch
import os
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from sandbox.config import ACCOUNT_ID

# Bodies of these types reach a payload 2.0 event as text; any other body is base64-encoded.
_TEXT_TYPES = (
    "text/*",
    "application/json",
    "application/*+json",
    "application/javascript",
    "application/xml",
    "application/*+xml",
)


def new_trace_root() -> str:
    """An X-Ray trace id: ``1-<epoch seconds, 8 hex>-<24 hex>``."""
    return f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"


@dataclass
class ApiRequest:
    """One request to an API, as the gateway saw it."""

    method: str
    path: str  # after the stage, percent-encoded as sent: "/items/a%20b"
    stage_prefix: str  # "/prod" for a named stage, "" for $default
    query_string: str  # as sent, without "?"
    headers: list  # [(name, value)], names as the client sent them, in order, repeats kept
    body: bytes
    source_ip: str
    domain_name: str  # "<api-id>.execute-api.localhost"
    port: str = "80"  # the port the client called
    protocol: str = "HTTP/1.1"
    received_at: float = field(default_factory=time.time)
    names_as_sent: bool = False  # the header names keep the client's case (else they are lower-cased)
    trace_root: str = field(default_factory=new_trace_root)  # used when the client sent no trace header

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else None

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


def new_request_ids() -> tuple[str, str]:
    """(request id, extended request id): a REST API's requestId is a UUID, its extendedRequestId (and its
    ``x-amz-apigw-id``) 16 characters of URL-safe base64 with one ``=`` (``LV7fzho-PHcEJPw=``); an HTTP
    API's requestId (and ``apigw-requestid``) is of the latter kind."""
    return str(uuid.uuid4()), base64.urlsafe_b64encode(os.urandom(11)).decode()


def root_of(header: str | None) -> str | None:
    """The ``Root`` of an ``X-Amzn-Trace-Id`` header, if it has one."""
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "root" and value:
            return value
    return None


def _times(request: ApiRequest) -> tuple[str, int]:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request.received_at))
    return stamp, int(request.received_at * 1000)


def _forwarded(request: ApiRequest) -> list:
    """The request's headers with what API Gateway adds: the client's address and port, the scheme, and
    ``X-Amzn-Trace-Id`` (the client's own when it carries a Root, which continues that trace)."""
    added = [
        ("X-Forwarded-For", request.source_ip),
        ("X-Forwarded-Port", request.port),
        ("X-Forwarded-Proto", "http"),
    ]
    trace = request.header("x-amzn-trace-id")
    if root_of(trace) is None:
        added.append(("X-Amzn-Trace-Id", f"Root={request.trace_root}"))
    replaced = {a.lower() for a, _ in added}
    return [(k, v) for k, v in request.headers if k.lower() not in replaced] + added


def event_trace_root(event: dict) -> str | None:
    """The trace Root an event's ``x-amzn-trace-id`` header carries (either payload format)."""
    headers = event.get("headers") if isinstance(event, dict) else None
    if not isinstance(headers, dict):
        return None
    return root_of(next((v for k, v in headers.items() if k.lower() == "x-amzn-trace-id"), None))


def is_text(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return any(fnmatch.fnmatchcase(media, pattern) for pattern in _TEXT_TYPES)


def matches_media_types(content_type: str | None, media_types) -> bool:
    """Whether a Content-Type (or an Accept header's types) is one of a REST API's binaryMediaTypes."""
    wanted = [m.strip().lower() for m in (content_type or "").split(",") if m.strip()]
    wanted = [m.split(";")[0].strip() for m in wanted]
    return any(
        fnmatch.fnmatchcase(w, p.lower()) or fnmatch.fnmatchcase(p.lower(), w)
        for w in wanted
        for p in media_types
    )


def _query(request: ApiRequest) -> list[tuple[str, str]]:
    return parse_qsl(request.query_string, keep_blank_values=True)


def http_api_event(
    request: ApiRequest,
    api_id: str,
    route_key: str,
    stage: str,
    path_parameters: dict,
    stage_variables: dict,
    request_id: str,
) -> dict:
    """Payload format 2.0."""
    stamp, epoch_ms = _times(request)
    raw_path = unquote(request.stage_prefix + request.path) or "/"
    headers, cookies = {}, []
    for name, value in _forwarded(request):
        name = name.lower()
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for name, value in _query(request):
        query[name] = f"{query[name]},{value}" if name in query else value
    event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": request.query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": request.domain_name,
        "domainPrefix": api_id,
        "http": {
            "method": request.method,
            "path": raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": stamp,
        "timeEpoch": epoch_ms,
    }
    if path_parameters:
        event["pathParameters"] = path_parameters
    if stage_variables:
        event["stageVariables"] = stage_variables
    if request.body:
        binary = not is_text(request.header("content-type"))
        event["body"] = (
            base64.b64encode(request.body).decode() if binary else request.body.decode("utf-8", "replace")
        )
        event["isBase64Encoded"] = binary
    else:
        event["isBase64Encoded"] = False
    return event


def _single_and_multi(pairs) -> tuple[dict, dict]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _canonical(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def proxy_event(
    request: ApiRequest,
    api_id: str,
    route,
    stage: str,
    path_parameters: dict,
    stage_variables: dict,
    request_ids: tuple[str, str],
    binary_media_types=(),
    http_api: bool = False,
) -> dict:
    """Payload format 1.0: a REST API's Lambda proxy integration (``http_api``: an HTTP API asking for 1.0,
    which passes the path decoded and always base64-encodes non-text bodies)."""
    stamp, epoch_ms = _times(request)
    # Names as the client sent them (REST; canonical case when the endpoint could not say) or lower-cased
    # (HTTP APIs); a repeated header or parameter: its last value, and every value in the multi-value map.
    named = str.lower if http_api else (lambda name: name) if request.names_as_sent else _canonical
    headers, multi_headers = _single_and_multi((named(k), v) for k, v in _forwarded(request))
    query, multi_query = _single_and_multi(_query(request))
    path = unquote(request.path) if http_api else request.path
    body = None
    binary = False
    if request.body:
        content_type = request.header("content-type")
        binary = (
            (not is_text(content_type)) if http_api else matches_media_types(content_type, binary_media_types)
        )
        body = base64.b64encode(request.body).decode() if binary else request.body.decode("utf-8", "replace")
    identity = {
        key: None
        for key in (
            "accessKey",
            "accountId",
            "caller",
            "cognitoAuthenticationProvider",
            "cognitoAuthenticationType",
            "cognitoIdentityId",
            "cognitoIdentityPoolId",
            "principalOrgId",
            "user",
            "userArn",
        )
    }
    identity.update(sourceIp=request.source_ip, userAgent=request.header("user-agent"))
    request_id, extended = request_ids
    context = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": request.domain_name,
        "domainPrefix": api_id,
        "extendedRequestId": extended,
        "httpMethod": request.method,
        "identity": identity,
        "path": (unquote if http_api else str)(request.stage_prefix + request.path) or "/",
        "protocol": request.protocol,
        "requestId": request_id,
        "requestTime": stamp,
        "requestTimeEpoch": epoch_ms,
        "resourceId": route.id,
        "resourcePath": route.path or "/",
        "stage": stage,
    }
    if http_api:
        # AWS's documented 1.0 example of an HTTP API: requestId is the extendedRequestId, resourceId null,
        # an authorizer with null claims and scopes. (Events captured from HTTP APIs have shown the route
        # key as resourceId and no authorizer; the sandbox follows the documentation.)
        context.update(requestId=extended, resourceId=None, authorizer={"claims": None, "scopes": None})
    event = {
        "resource": route.path or "/",
        "path": path or "/",
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "requestContext": context,
        "pathParameters": path_parameters or None,
        "stageVariables": stage_variables or None,
        "body": body,
        "isBase64Encoded": binary,
    }
    if http_api:
        event = {"version": "1.0", **event}
    return event
