"""Who may use the local AWS endpoint: this machine's tools, the sandbox's own page, and nobody else.

The outermost WSGI layer of the endpoint, checked before any AWS service sees a request: Host (DNS
rebinding), Origin / Referer / ``Sec-Fetch-Site``, the token when listening beyond loopback, methods as
AWS's protocols send them, CORS as S3's bucket configuration grants it, and a sandboxing CSP on every
answer. Public AWS URLs (API Gateway's ``execute-api``, ``LocalEndpoint.add_public_route``) get the Host
rule only, as an API without an authorizer on AWS answers anyone. Refusals are AWS-shaped error bodies.

The rules and why each exists: docs/access-rules.md.
"""

from __future__ import annotations

import fnmatch
import io
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from sandbox.errors import ConfigError
from sandbox.host_names import (
    WILDCARD_HOSTS,
    ip_literal,
    is_loopback_address,
    is_loopback_name,
    machine_names,
    normalise_name,
    split_host,
)

SANDBOX_ROUTES = "/_sandbox/"
MOTO_API_ROUTES = "/moto-api"
# Where a public URL is served: on its own origin (<id>.execute-api.localhost) or on the endpoint's.
OWN_ORIGIN = "own-origin"
# Rule 6: what the endpoint's origin serves (objects, API answers on the path form) never runs a script
# there; a page of its own may not script the endpoint.
ENDPOINT_ORIGIN_HEADERS = [("Content-Security-Policy", "sandbox"), ("X-Content-Type-Options", "nosniff")]
FROM_A_PAGE = ("same-origin", "same-site", "cross-site")  # Sec-Fetch-Site of a request a page sent
READ_ACTION = re.compile(r"^(Get|List|Describe)[A-Z]")  # query-protocol actions that change nothing
# The headers browser SDKs need to read from AWS responses.
EXPOSED_HEADERS = (
    "x-amzn-RequestId, x-amzn-ErrorType, x-amz-request-id, x-amz-id-2, x-amz-log-result, "
    "x-amz-function-error, x-amz-executed-version, x-amz-version-id, ETag, Date"
)
ANY_METHOD = "GET, HEAD, POST, PUT, PATCH, DELETE"
JSON_SERVICES = {"lambda", "logs", "events", "dynamodb", "apigateway", "scheduler"}
_DATED_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/")  # Lambda's REST paths: /2015-03-31/functions ...

BucketCors = Callable[[str], "list[dict] | None"]  # bucket -> its CORS rules, None without configuration


def normalise_origin(value: str) -> str:
    """``HTTP://LocalHost:3000/`` -> ``http://localhost:3000``; default ports dropped, as browsers send it."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(value)
    host = normalise_name(parts.hostname)
    port = parts.port
    if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)):
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def parse_allowed_origin(value: str) -> str:
    """``--allow-origin`` takes one exact origin; a wildcard would reflect every page on the web."""
    if value.strip() in ("*", "null"):
        raise ConfigError(
            f"--allow-origin takes one origin such as http://localhost:3000, not {value!r}: "
            f"that would let every web page in your browser use the sandbox."
        )
    try:
        origin = normalise_origin(value)
    except ValueError:
        raise ConfigError(
            f"--allow-origin takes an origin such as http://localhost:3000 (scheme, host and "
            f"port); got {value!r}."
        ) from None
    if urlsplit(value.strip()).path not in ("", "/"):
        raise ConfigError(f"--allow-origin takes an origin without a path (e.g. {origin}); got {value!r}.")
    return origin


def new_access_token() -> str:
    """A token shaped like an access key id (20 upper-case characters), so every client accepts it."""
    import secrets

    return "SBX" + secrets.token_hex(9).upper()[:17]


@dataclass
class AccessPolicy:
    """The endpoint's rules as data: what the bind address, ``--allow-origin`` and the token say."""

    bind_host: str = "127.0.0.1"
    allowed_origins: set = field(default_factory=set)
    access_token: str | None = None
    moto_api: bool = False  # --moto-api: serve moto's /moto-api/ (reset, recorder, replay)
    # Whether a client address is this machine (it needs no token): loopback. The tests let 127.0.0.2
    # play another machine on the network.
    this_machine: Callable[[str], bool] = field(default=is_loopback_address, repr=False, compare=False)

    def __post_init__(self):
        self.allowed_origins = {parse_allowed_origin(o) for o in self.allowed_origins}
        bind = normalise_name(self.bind_host)
        self.wildcard = self.bind_host in WILDCARD_HOSTS
        self._extra_names = set() if self.wildcard or is_loopback_name(bind) else {bind}
        if self.wildcard:
            self._extra_names |= machine_names() | {"0.0.0.0", "[::]"}

    @property
    def shared_on_network(self) -> bool:
        return not is_loopback_name(normalise_name(self.bind_host)) or self.wildcard

    def allow_page(self, url: str) -> None:
        """The sandbox's own page is an allowed origin under each loopback name it can be reached by."""
        parts = urlsplit(url)
        names = {"127.0.0.1", "localhost", "[::1]"} | (
            {normalise_name(parts.hostname)} if parts.hostname else set()
        )
        for name in names:
            self.allowed_origins.add(normalise_origin(f"{parts.scheme}://{name}:{parts.port}"))

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header:
            return True  # HTTP/1.0 without Host: no name for an attacker to have chosen
        name, port = split_host(host_header)
        if port == -1:
            return False
        if is_loopback_name(name) or name in self._extra_names:
            return True
        return self.wildcard and ip_literal(name) is not None

    def origin_allowed(self, origin: str) -> bool:
        try:
            return normalise_origin(origin) in self.allowed_origins
        except ValueError:
            return False  # "null" (sandboxed frames, file:// pages) and anything malformed


def request_origin(environ) -> str | None:
    """The page a browser request came from: ``Origin``, else the origin of ``Referer``."""
    origin = environ.get("HTTP_ORIGIN")
    if origin:
        return origin
    referer = environ.get("HTTP_REFERER")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"
    return None


def access_key_id(environ) -> str | None:
    """The access key id a request was signed with (SigV4 header, or a presigned URL's query)."""
    match = re.search(r"Credential=([^/,\s]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group(1)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    credential = (query.get("X-Amz-Credential") or [""])[0]
    return credential.split("/", 1)[0] or None


def service_of(environ) -> str:
    """Which AWS service a request is for, as the signature's credential scope says; unsigned requests
    (anonymous S3, browser preflights) are judged by their shape as moto's dispatcher does."""
    scope = re.search(
        r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/,\s]+)/aws4_request",
        environ.get("HTTP_AUTHORIZATION", "") + " " + environ.get("QUERY_STRING", "").replace("%2F", "/"),
    )
    if scope:
        return scope.group(1).lower()
    path = environ.get("PATH_INFO", "")
    if path.startswith(SANDBOX_ROUTES):
        return "sandbox"
    if "Action" in parse_qs(environ.get("QUERY_STRING", "")):
        return "query"
    method = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD") or environ.get("REQUEST_METHOD", "GET")
    requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").lower()
    if _DATED_PATH.match(path):
        return "lambda"
    if "x-amz-target" in requested or environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if path in ("", "/") and method.upper() == "POST":
        return "query"  # IAM, SQS, STS, CloudWatch: Action=... posted to /
    return "s3"


def form_actions(environ) -> list[str]:
    """The ``Action`` values of a form body, which moto and the sandbox's CloudFormation read whatever
    the method; the body is put back for them."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return []
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return []
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return parse_qs(body.decode("utf-8", "replace")).get("Action", [])


def error_response(service: str, status: int, code: str, message: str) -> tuple[str, list, bytes]:
    """An AWS-shaped error for ``service``: what botocore parses into ``Error.Code``/``Message``."""
    request_id = str(uuid.uuid4())
    if service in JSON_SERVICES or service == "json":
        code = code if code.endswith("Exception") else f"{code}Exception"
        body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    elif service == "s3" or service == "sandbox":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    else:
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    headers.append(("Content-Length", str(len(body))))
    return f"{status} {HTTPStatus(status).phrase}", headers, body


# -- S3's CORS, as S3 evaluates a bucket's configuration --------------------------------------------
def _matches(value: str, patterns: Iterable[str], case_sensitive: bool = True) -> bool:
    """AllowedOrigin / AllowedHeader patterns hold at most one ``*`` wildcard."""
    for pattern in patterns:
        if case_sensitive and fnmatch.fnmatchcase(value, pattern.replace("[", "[[]")):
            return True
        if not case_sensitive and fnmatch.fnmatchcase(value.lower(), pattern.lower().replace("[", "[[]")):
            return True
    return False


def s3_cors_rule(rules: list[dict], origin: str, method: str, request_headers: list[str]) -> dict | None:
    """S3 uses the first CORSRule whose AllowedOrigin matches the origin, whose AllowedMethod holds the
    method, and (for a preflight) whose AllowedHeader covers every requested header."""
    for rule in rules:
        if not _matches(origin, rule.get("AllowedOrigins", [])):
            continue
        if method.upper() not in {m.upper() for m in rule.get("AllowedMethods", [])}:
            continue
        if any(
            not _matches(h, rule.get("AllowedHeaders", []), case_sensitive=False) for h in request_headers
        ):
            continue
        return rule
    return None


def s3_cors_headers(rule: dict, origin: str, preflight: bool, request_headers: list[str]) -> list:
    wildcard = "*" in rule.get("AllowedOrigins", [])
    headers = [
        ("Access-Control-Allow-Origin", "*" if wildcard else origin),
        ("Access-Control-Allow-Methods", ", ".join(rule.get("AllowedMethods", []))),
    ]
    if not wildcard:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if preflight and request_headers:
        headers.append(("Access-Control-Allow-Headers", ", ".join(request_headers)))
    if rule.get("ExposeHeaders"):
        headers.append(("Access-Control-Expose-Headers", ", ".join(rule["ExposeHeaders"])))
    if rule.get("MaxAgeSeconds") is not None:
        headers.append(("Access-Control-Max-Age", str(rule["MaxAgeSeconds"])))
    headers.append(("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"))
    return headers


def bucket_of(environ) -> str | None:
    """The bucket of a path-style S3 request (``/bucket/key``): the sandbox's endpoint is path-style."""
    first = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)[0]
    return first or None


class EndpointGuard:
    """The endpoint's outermost WSGI layer: rules 1-6 of this module's docstring."""

    def __init__(
        self,
        app,
        policy: AccessPolicy,
        bucket_cors: BucketCors,
        public: Callable[[dict], object] | None = None,
    ):
        """``public(environ)``: whether the request is for a public AWS URL (see the module's docstring):
        false, ``OWN_ORIGIN`` when it is served on a host name of its own, else anything true."""
        self.app = app
        self.policy = policy
        self.bucket_cors = bucket_cors
        self.public = public

    def __call__(self, environ, start_response):
        where = self.public(environ) if self.public is not None else None
        if where:
            host = environ.get("HTTP_HOST")
            if not self.policy.host_allowed(host):
                return self._respond(
                    start_response, error_response("json", 403, "AccessDenied", self._host_refusal(host))
                )
            if where == OWN_ORIGIN:
                return self.app(environ, start_response)
            return self.app(
                environ,
                lambda status, headers, exc_info=None: start_response(
                    status, headers + ENDPOINT_ORIGIN_HEADERS, exc_info
                ),
            )
        service = service_of(environ)
        refusal = self._refusal(environ)
        if refusal is not None:
            return self._respond(start_response, error_response(service, 403, "AccessDenied", refusal))
        refusal = self._method_refusal(environ)
        if refusal is not None:
            return self._respond(start_response, error_response(service, 405, "MethodNotAllowed", refusal))
        if environ.get("PATH_INFO", "").startswith(MOTO_API_ROUTES) and not self.policy.moto_api:
            return self._respond(
                start_response,
                error_response(
                    "s3",
                    403,
                    "AccessDenied",
                    (
                        "moto's /moto-api/ (reset, recorder, replay) is off: anything that reaches the "
                        "endpoint could reset or replay it. Start the sandbox with --moto-api to use it."
                    ),
                ),
            )
        origin = request_origin(environ)
        if environ.get("REQUEST_METHOD") == "OPTIONS":  # a preflight: _method_refusal let no other through
            return self._preflight(environ, start_response, service, environ["HTTP_ORIGIN"])
        cors = self._cors_for_request(environ, service, origin) if origin else []

        def start(status, headers, exc_info=None):
            kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            return start_response(status, kept + cors + ENDPOINT_ORIGIN_HEADERS, exc_info)

        return self.app(environ, start)

    # -- rules 1-3 -------------------------------------------------------------------------------
    def _refusal(self, environ) -> str | None:
        policy = self.policy
        host = environ.get("HTTP_HOST")
        if not policy.host_allowed(host):
            return self._host_refusal(host)
        origin = request_origin(environ)
        if origin is not None and not policy.origin_allowed(origin):
            return (
                f"The local AWS endpoint refused a request from the web page at {origin}: only the AWS "
                f"CLI, SDKs and the sandbox's own page may use it, so that other sites open in your "
                f"browser cannot. If this is your own front end, start the sandbox with "
                f"--allow-origin {origin}."
            )
        fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
        if origin is None and fetch_site in FROM_A_PAGE:
            # Without Origin or Referer, same-origin means a page the endpoint served itself (an object,
            # an API's answer): never an allowed page.
            page = (
                "a page it served itself (an object or an API's answer)"
                if fetch_site == "same-origin"
                else "a web page that did not say where it came from"
            )
            return (
                f"The local AWS endpoint refused a request from {page}; only the AWS CLI, SDKs and "
                f"allowed pages (--allow-origin) may use it."
            )
        if (
            policy.access_token
            and not policy.this_machine(environ.get("REMOTE_ADDR", ""))
            and access_key_id(environ) != policy.access_token
        ):
            return (
                "This sandbox is shared on the network and needs its access token: set "
                "AWS_ACCESS_KEY_ID to the token printed where the sandbox was started "
                "(any AWS_SECRET_ACCESS_KEY will do)."
            )
        return None

    # -- rule 4 ----------------------------------------------------------------------------------
    @staticmethod
    def _method_refusal(environ) -> str | None:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "OPTIONS":
            if environ.get("HTTP_ORIGIN") and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
                return None
            return (
                "OPTIONS is answered only as a browser's CORS preflight (with Origin and "
                "Access-Control-Request-Method); no AWS API takes any other OPTIONS request."
            )
        if method == "POST":
            return None
        if environ.get("HTTP_X_AMZ_TARGET"):
            return (
                f"{environ['HTTP_X_AMZ_TARGET']} is a JSON-protocol call (X-Amz-Target): AWS takes those "
                f"only as POST, as the AWS CLI and SDKs send them, not as {method}."
            )
        actions = parse_qs(environ.get("QUERY_STRING", "")).get("Action", []) + form_actions(environ)
        changing = next((action for action in actions if not READ_ACTION.match(action)), None)
        if changing is not None:
            # AWS also takes a signed GET for query-protocol actions; here only reads, because a GET is
            # what a link, an image or a page can send without a preflight.
            return (
                f"Action={changing} changes things and is accepted only as POST, as the AWS CLI and "
                f"SDKs send it, not as {method}."
            )
        return None

    @staticmethod
    def _host_refusal(host) -> str:
        return (
            f"The local AWS endpoint answers only at 127.0.0.1, localhost or [::1]; this request named "
            f"the host {host!r}, which is how a DNS-rebinding attack from a web page looks. Use "
            f"http://127.0.0.1:<port>, or start the sandbox with --host <that address> if you mean "
            f"to serve it there."
        )

    # -- rule 5 ----------------------------------------------------------------------------------
    def _preflight(self, environ, start_response, service: str, origin: str):
        method = environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"]
        requested = [
            h.strip() for h in environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").split(",") if h.strip()
        ]
        if service == "sandbox":
            return self._respond(
                start_response,
                error_response(
                    "sandbox", 403, "AccessForbidden", "The sandbox's own routes are not for web pages."
                ),
            )
        if service != "s3":
            headers = [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Methods", ANY_METHOD),
                ("Access-Control-Allow-Credentials", "true"),
                ("Access-Control-Max-Age", "600"),
                ("Vary", "Origin"),
            ]
            if requested:
                headers.append(("Access-Control-Allow-Headers", ", ".join(requested)))
            return self._respond(start_response, ("200 OK", headers + [("Content-Length", "0")], b""))
        bucket = bucket_of(environ)
        rules = self.bucket_cors(bucket) if bucket else None
        if not rules:
            return self._respond(
                start_response,
                error_response(
                    "s3", 403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket."
                ),
            )
        rule = s3_cors_rule(rules, origin, method, requested)
        if rule is None:
            return self._respond(
                start_response,
                error_response(
                    "s3",
                    403,
                    "AccessForbidden",
                    "CORSResponse: This CORS request is not allowed. This is usually because the evalution "
                    "of Origin, request method / Access-Control-Request-Method or "
                    "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
                ),
            )
        headers = s3_cors_headers(rule, origin, True, requested)
        return self._respond(start_response, ("200 OK", headers + [("Content-Length", "0")], b""))

    def _cors_for_request(self, environ, service: str, origin: str) -> list:
        if service == "sandbox":
            return []
        if service != "s3":
            return [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Credentials", "true"),
                ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
                ("Vary", "Origin"),
            ]
        bucket = bucket_of(environ)
        rules = (self.bucket_cors(bucket) if bucket else None) or []
        rule = s3_cors_rule(rules, origin, environ.get("REQUEST_METHOD", "GET"), [])
        return s3_cors_headers(rule, origin, False, []) if rule else []

    @staticmethod
    def _respond(start_response, response):
        status, headers, body = response
        start_response(status, headers + ENDPOINT_ORIGIN_HEADERS)
        return [body]
