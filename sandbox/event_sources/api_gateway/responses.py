"""What API Gateway answers: the function's response turned into HTTP, or the gateway's own error.

Payload format 2.0 (HTTP APIs, with ``statusCode`` inferred for plain JSON output) and payload format
1.0 (REST APIs, strict keys, base64 bodies decoded by ``Accept`` and ``binaryMediaTypes``), each with
the status codes and bodies API Gateway gives a malformed response, a function error, a throttle, an
integration timeout and an unknown route or stage. Output that is not valid JSON is malformed.

The shapes and error answers of each format: docs/event-sources.md.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

_V1_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


class MalformedResponse(ValueError):
    """The function's output is not a response API Gateway can build an HTTP response from."""


@dataclass
class HttpResponse:
    status: int
    headers: list = field(default_factory=list)  # [(name, value)]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


# -- the gateway's own answers ------------------------------------------------------------------------
_GATEWAY_ERRORS = {
    # (kind, situation): (status, body, x-amzn-ErrorType)
    ("http", "not found"): (404, '{"message":"Not Found"}', None),
    ("http", "function error"): (500, '{"message":"Internal Server Error"}', None),
    ("http", "throttled"): (500, '{"message":"Internal Server Error"}', None),
    ("http", "configuration"): (500, '{"message":"Internal Server Error"}', None),
    ("http", "timeout"): (503, '{"message":"Service Unavailable"}', None),
    ("rest", "not found"): (
        403,
        '{"message":"Missing Authentication Token"}',
        "MissingAuthenticationTokenException",
    ),
    ("rest", "no stage"): (403, '{"message":"Forbidden"}', "ForbiddenException"),
    ("rest", "function error"): (502, '{"message": "Internal server error"}', "InternalServerErrorException"),
    ("rest", "throttled"): (500, '{"message": "Internal server error"}', "InternalServerErrorException"),
    ("rest", "configuration"): (500, '{"message": "Internal server error"}', "InternalServerErrorException"),
    ("rest", "timeout"): (504, '{"message": "Endpoint request timed out"}', None),
}


def gateway_error(kind: str, situation: str) -> HttpResponse:
    """API Gateway's default answer of an HTTP API (``kind="http"``) or a REST API (``"rest"``)."""
    if situation == "no stage" and kind == "http":
        situation = "not found"
    status, body, error_type = _GATEWAY_ERRORS[(kind, situation)]
    headers = [("Content-Type", "application/json")]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return HttpResponse(status, headers, body.encode())


# -- payload 2.0 ----------------------------------------------------------------------------------------
def _header_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MalformedResponse(f"a header value must be a string, not {type(value).__name__}")


def _decoded(body: str, is_base64: bool) -> bytes:
    if not is_base64:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedResponse("isBase64Encoded is true but the body is not base64") from None


def http_api_response(result) -> HttpResponse:
    """An HTTP API's response from a payload 2.0 function output (raises MalformedResponse)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # Valid JSON without a statusCode: API Gateway infers the response.
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("Content-Type", "application/json")], body.encode())
    status = _status(result["statusCode"])
    headers = [(str(k), _header_value(v)) for k, v in _mapping(result.get("headers"), "headers").items()]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "text/plain; charset=utf-8"))
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MalformedResponse("cookies must be a list of strings")
    headers += [("Set-Cookie", c) for c in cookies]
    return HttpResponse(status, headers, _body(result))


# -- payload 1.0 ----------------------------------------------------------------------------------------
def proxy_response(result, decode_binary: bool, http_api: bool = False) -> HttpResponse:
    """A response from a payload 1.0 function output: a REST API's (``decode_binary``: the request's Accept
    names a binary media type) or an HTTP API's (which always decodes). Raises MalformedResponse."""
    if not isinstance(result, dict):
        raise MalformedResponse("the output is not a JSON object")
    if not http_api and set(result) - _V1_KEYS:
        raise MalformedResponse(f"unexpected keys {sorted(set(result) - _V1_KEYS)}")
    if "statusCode" not in result:
        raise MalformedResponse("statusCode is missing")
    status = _status(result["statusCode"])
    headers: list[tuple[str, str]] = []
    for name, values in _mapping(result.get("multiValueHeaders"), "multiValueHeaders").items():
        if not isinstance(values, list):
            raise MalformedResponse("multiValueHeaders values must be lists")
        headers += [(str(name), _header_value(v)) for v in values]
    for name, value in _mapping(result.get("headers"), "headers").items():
        value = _header_value(value)
        if not any(k.lower() == str(name).lower() and v == value for k, v in headers):
            headers.append((str(name), value))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    encoded = bool(result.get("isBase64Encoded"))
    # A body that is not base64 where API Gateway must decode it: AWS does not document a REST API's
    # answer; here it is the malformed response's 502.
    body = _body(dict(result, isBase64Encoded=encoded and (decode_binary or http_api)))
    return HttpResponse(status, headers, body)


def _status(value) -> int:
    try:
        status = int(value)
    except (TypeError, ValueError):
        raise MalformedResponse(f"statusCode {value!r} is not a number") from None
    if isinstance(value, bool) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {value!r} is not an HTTP status")
    return status


def _mapping(value, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponse(f"{name} must be an object")
    return value


def _body(result: dict) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse("body must be a string (json.dumps it)")
    return _decoded(body, bool(result.get("isBase64Encoded")))


# -- an HTTP API's CORS (its CorsConfiguration) ---------------------------------------------------------
def _origin_allowed(cors: dict, origin: str) -> str | None:
    """The Access-Control-Allow-Origin for this origin, or None when the configuration does not allow it."""
    allowed = cors.get("AllowOrigins") or []
    if origin in allowed:
        return origin
    if "*" in allowed:
        return origin if cors.get("AllowCredentials") else "*"
    return None


def cors_preflight(cors: dict, origin: str) -> HttpResponse:
    """API Gateway answers an HTTP API's preflight itself when the API has a CORS configuration (whatever
    its routes); an origin it does not allow gets no CORS headers, so the browser refuses."""
    response = HttpResponse(204)
    allow_origin = _origin_allowed(cors, origin)
    if allow_origin is None:
        return response
    response.headers.append(("Access-Control-Allow-Origin", allow_origin))
    for header, key in (
        ("Access-Control-Allow-Methods", "AllowMethods"),
        ("Access-Control-Allow-Headers", "AllowHeaders"),
    ):
        if cors.get(key):
            response.headers.append((header, ",".join(cors[key])))
    if cors.get("MaxAge") is not None:
        response.headers.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    if cors.get("AllowCredentials"):
        response.headers.append(("Access-Control-Allow-Credentials", "true"))
    response.headers.append(("Vary", "Origin"))
    return response


def with_cors(response: HttpResponse, cors: dict, origin: str | None) -> HttpResponse:
    """With a CORS configuration, API Gateway ignores the function's own CORS headers and adds its own."""
    response.headers = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
    allow_origin = _origin_allowed(cors, origin) if origin else None
    if allow_origin is not None:
        response.headers.append(("Access-Control-Allow-Origin", allow_origin))
        if cors.get("ExposeHeaders"):
            response.headers.append(("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"])))
        if cors.get("AllowCredentials"):
            response.headers.append(("Access-Control-Allow-Credentials", "true"))
        response.headers.append(("Vary", "Origin"))
    return response
