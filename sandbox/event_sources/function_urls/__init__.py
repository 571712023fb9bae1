"""Lambda function URLs as an event source: a URL's request becomes API Gateway's payload 2.0 event with
function URLs' differences, the function runs synchronously, and its output becomes the HTTP response as
an HTTP API maps it (api_gateway/responses.py).

Two URL forms, both on the local endpoint (AWS: ``https://<url-id>.lambda-url.<region>.on.aws/``):
``http://<url-id>.lambda-url.localhost:<port>/`` (browsers and curl resolve ``*.localhost`` to this machine)
and ``http://127.0.0.1:<port>/_aws/lambda-url/<url-id>/``, which shares the endpoint's origin and is therefore
answered with ``Content-Security-Policy: sandbox`` (a page served there cannot act as that origin).
``AuthType`` ``NONE`` is public, as on AWS; ``AWS_IAM`` asks for a SigV4-signed request (signed with the
sandbox's token when it is shared on the network). The URL's ``Cors`` answers preflights and adds the
``Access-Control-*`` headers. In ``RESPONSE_STREAM`` mode the function's streamed bytes go out as they are
written (chunked), a prelude of ``application/vnd.awslambda.http-integration-response`` giving the status,
headers and cookies (docs/response-streaming.md). The configurations' API is configs.py.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

from sandbox.config import ACCOUNT_ID
from sandbox.endpoint.access import access_key_id
from sandbox.event_sources.api_gateway import events, responses
from sandbox.event_sources.api_gateway.gateway import _request, _send
from sandbox.event_sources.api_gateway.responses import HttpResponse, MalformedResponse
from sandbox.event_sources.base import EventSource, SourceContext
from sandbox.event_sources.function_urls.configs import HOST_SUFFIX, UrlConfig, UrlConfigApi, UrlConfigs
from sandbox.host_names import is_loopback_address, split_host

SOURCE = "aws:lambda-url"
PATH_PREFIX = "/_aws/lambda-url/"
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")
_FUNCTION_PATH = re.compile(r"^/[^/]+/functions/(?P<name>[^/]+)(?:/aliases/(?P<alias>[^/]+))?/?$")


def _answer(status: int, message: str, error_type: str | None = None) -> HttpResponse:
    headers = [("Content-Type", "application/json")] + (
        [("x-amzn-ErrorType", error_type)] if error_type else []
    )
    return HttpResponse(status, headers, ('{"Message":"' + message + '"}').encode())


def forbidden() -> HttpResponse:
    """What a function URL answers a request it does not authorise (and an unknown URL id)."""
    return _answer(403, "Forbidden", "AccessDeniedException")


def signing_key(environ) -> str | None:
    """The access key id of a SigV4-signed request scoped to Lambda (header or presigned query), else None.
    AWS also verifies the signature against the key's secret; the local endpoint has no secrets to check
    (any secret key will do there too), so here a request counts as signed when it carries a signature."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if authorization.startswith("AWS4-HMAC-SHA256 "):
        scope = _SCOPE.search(authorization)
        return (
            access_key_id(environ)
            if scope and scope.group("service") == "lambda" and "Signature=" in authorization
            else None
        )
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if (
        query.get("X-Amz-Algorithm") == ["AWS4-HMAC-SHA256"]
        and query.get("X-Amz-Signature")
        and "/lambda/" in (query.get("X-Amz-Credential") or [""])[0]
    ):
        return access_key_id(environ)
    return None


def url_event(request: events.ApiRequest, config: UrlConfig, key: str | None, request_id: str) -> dict:
    """Payload 2.0 as a function URL sends it: routeKey and stage ``$default``, the URL id as apiId and
    domainPrefix, accountId ``anonymous`` without IAM auth, ``authorizer.iam`` with it."""
    event = events.http_api_event(request, config.url_id, "$default", "$default", {}, {}, request_id)
    context = event["requestContext"]
    if config.auth_type == "AWS_IAM":
        context["accountId"] = ACCOUNT_ID
        # The caller as IAM knows it; the sandbox's credentials are the account's own user.
        context["authorizer"] = {
            "iam": {
                "accessKey": key,
                "accountId": ACCOUNT_ID,
                "callerId": key,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/sandbox",
                "userId": key,
            }
        }
    else:
        context["accountId"] = "anonymous"
    return event


def describe(event) -> tuple[str, str, dict] | None:
    """What a function URL event is about: its method, path and URL id."""
    if not isinstance(event, dict) or event.get("routeKey") != "$default":
        return None
    context = event.get("requestContext")
    if not isinstance(context, dict) or ".lambda-url." not in str(context.get("domainName", "")):
        return None
    method, path = (context.get("http") or {}).get("method"), event.get("rawPath")
    return (
        SOURCE,
        f"{method} {path} (function URL {context.get('domainPrefix')})",
        {"url": context.get("domainPrefix"), "method": method, "path": path},
    )


def sample_event(
    method: str = "GET", path: str = "/", body: str | None = None, auth_type: str = "NONE"
) -> dict:
    """A complete function URL event (``run_local.py generate-event lambda-url``)."""
    url_id = "abcdefghijklmnopqrstuvwxyz012345"
    domain = f"{url_id}{HOST_SUFFIX}"
    request = events.ApiRequest(
        method=method.upper(),
        path=path,
        stage_prefix="",
        query_string="",
        body=(body or "").encode(),
        headers=[("host", f"{domain}:4566"), ("user-agent", "curl/8.5.0"), ("accept", "*/*")]
        + ([("content-type", "application/json")] if body else []),
        source_ip="127.0.0.1",
        domain_name=domain,
        port="4566",
    )
    config = UrlConfig(
        url_id,
        "my-function",
        f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:my-function",
        auth_type,
        None,
        "BUFFERED",
        "",
        "",
    )
    return url_event(
        request, config, "AKIAIOSFODNN7EXAMPLE" if auth_type == "AWS_IAM" else None, str(uuid.uuid4())
    )


class FunctionUrls:
    """The WSGI app answering the URLs (both forms)."""

    def __init__(self, source: FunctionUrlEventSource):
        self.source = source

    def __call__(self, environ, start_response):
        located = _locate(environ)
        config = self.source.configs.by_id(located[0]) if located else None
        if config is None:
            # An unknown URL id: AWS answers 403 Forbidden, as for a request it does not authorise.
            return self._send(environ, start_response, forbidden())
        url_id, path, domain = located
        origin = environ.get("HTTP_ORIGIN")
        if (
            config.cors
            and origin
            and environ.get("REQUEST_METHOD") == "OPTIONS"
            and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        ):
            # Lambda answers the preflight itself (unsigned, as browsers send it), from the URL's Cors.
            return self._send(environ, start_response, responses.cors_preflight(config.cors, origin))
        key = None
        if config.auth_type == "AWS_IAM":
            key = signing_key(environ)
            if key is None or not self._token_accepted(environ, key):
                return self._send(environ, start_response, forbidden())
        if config.invoke_mode == "RESPONSE_STREAM":
            response, body = self.source.respond_streaming(config, _request(environ, path, domain), key)
            if body is not None:
                if config.cors:
                    response = responses.with_cors(response, config.cors, origin)
                return self._send_streamed(environ, start_response, response, body)
        else:
            response = self.source.respond(config, _request(environ, path, domain), key)
        if config.cors:
            response = responses.with_cors(response, config.cors, origin)
        return self._send(environ, start_response, response)

    def _token_accepted(self, environ, key: str) -> bool:
        """Shared on the network (``--host 0.0.0.0``), a request from another machine must be signed with the
        sandbox's token, as every request to the endpoint must."""
        access = self.source.context.access
        token = getattr(access, "access_token", None)
        return not token or is_loopback_address(environ.get("REMOTE_ADDR", "")) or key == token

    @staticmethod
    def _send(environ, start_response, response: HttpResponse):
        _sandbox_path_form(environ, response)
        return _send(start_response, response)

    @staticmethod
    def _send_streamed(environ, start_response, response: HttpResponse, body: Iterator[bytes]):
        """Status and headers now, the body as the function writes it (chunked: no Content-Length)."""
        _sandbox_path_form(environ, response)
        headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Status"
        start_response(f"{response.status} {reason}", headers)
        return (chunk for chunk in body if chunk)  # an empty chunk would end a chunked body


def _sandbox_path_form(environ, response: HttpResponse) -> None:
    if environ.get("PATH_INFO", "").startswith(PATH_PREFIX):
        # The path form shares the endpoint's origin: its pages must not act as that origin.
        response.headers = [(k, v) for k, v in response.headers if k.lower() != "content-security-policy"]
        response.headers.append(("Content-Security-Policy", "sandbox"))


def _locate(environ) -> tuple[str, str, str] | None:
    """(url id, raw path after it, the URL's domain name) from either URL form."""
    name = split_host(environ.get("HTTP_HOST") or "")[0]
    raw = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/").split(
        "?", 1
    )[0]
    if raw.startswith(("http://", "https://")):  # an absolute request target
        raw = "/" + raw.split("/", 3)[3] if raw.count("/") >= 3 else "/"
    if name.endswith(HOST_SUFFIX):
        url_id = name[: -len(HOST_SUFFIX)]
        return (url_id, raw, name) if url_id and "." not in url_id else None
    if raw.startswith(PATH_PREFIX):
        url_id, _, rest = raw[len(PATH_PREFIX) :].partition("/")
        return (url_id, "/" + rest, f"{url_id}{HOST_SUFFIX}") if url_id else None
    return None


class FunctionUrlEventSource(EventSource):
    name = "function-urls"
    describe = staticmethod(describe)

    def __init__(self, context: SourceContext):
        self.context = context
        self.configs = UrlConfigs(context.state)
        self.app = FunctionUrls(self)
        self._service = None

    def service_middleware(self) -> dict:
        return {
            "awslambda": lambda app: _ForgetDeleted(
                UrlConfigApi(app, self.configs, self._arn, self._port), self.configs
            )
        }

    def routes(self) -> dict:
        return {PATH_PREFIX: self.app}

    def host_routes(self) -> list:
        return [(HOST_SUFFIX, self.app)]

    def start(self, service) -> None:
        self.configs.restore()
        self._service = service

    def stop(self) -> None:
        self._service = None

    def triggers(self) -> list[dict]:
        port = self._port()
        return [
            {
                "kind": "Function URL",
                "source": f"{c.url_id} (auth {c.auth_type})",
                "function": c.function_name,
                "detail": f"InvokeMode {c.invoke_mode}" + (", CORS" if c.cors else ""),
                "url": c.describe(port)["FunctionUrl"],
                "state": "Enabled",
            }
            for c in self.configs.all()
        ]

    def _port(self) -> str:
        return self.context.client("lambda").meta.endpoint_url.rsplit(":", 1)[-1].strip("/")

    def _arn(self, name: str) -> str | None:
        """The ARN of a function (``name``) or of its alias (``name:alias``), or None when there is none."""
        runtime = self._service.runtime(name) if self._service is not None else None
        qualifier = name.partition(":")[2] or None
        return runtime.function.arn(self.context.region, qualifier) if runtime is not None else None

    def respond(self, config: UrlConfig, request: events.ApiRequest, key: str | None) -> HttpResponse:
        """Run the function with the request's event and map its output, as a function URL does."""
        from sandbox.lambda_.environment_pool import Throttled
        from sandbox.lambda_.invocation import InvocationStatus

        service = self._service
        if service is None or service.runtime(config.function_name) is None:
            return forbidden()
        record = self._record(config, request, key)
        request_id = record.request_id
        try:
            service.run(record)
        except Throttled:
            return _answer(429, "Rate Exceeded.", "TooManyRequestsException")
        if record.status != InvocationStatus.SUCCESS:
            return _function_failed(request_id)
        try:
            response = responses.http_api_response(record.result)
        except MalformedResponse as exc:
            self.context.report(
                f"function URL {config.url_id}: the response of {config.function_name} is malformed ({exc})."
            )
            response = HttpResponse(
                502, [("Content-Type", "text/plain; charset=utf-8")], b"Internal Server Error"
            )
        response.headers.append(("x-amzn-RequestId", request_id))
        return response

    def respond_streaming(
        self, config: UrlConfig, request: events.ApiRequest, key: str | None
    ) -> tuple[HttpResponse, Iterator[bytes] | None]:
        """RESPONSE_STREAM: the status and headers once the function starts streaming (from its HTTP
        integration prelude, if it writes one), and its bytes as it writes them. A function that does not
        stream has its whole response sent as the body, as Lambda streams every response of such a URL."""
        from sandbox.lambda_.environment_pool import Throttled
        from sandbox.lambda_.invocation import InvocationStatus
        from sandbox.lambda_.response_streaming import HTTP_INTEGRATION, ResponseStream

        service = self._service
        if service is None or service.runtime(config.function_name) is None:
            return forbidden(), None
        record = self._record(config, request, key)
        stream = ResponseStream()
        outcome: dict = {}

        def run():
            try:
                service.run(record, stream)
            except Throttled:
                outcome["throttled"] = True
            finally:
                stream.finish()

        worker = threading.Thread(target=run, name=f"url-stream-{config.url_id}", daemon=True)
        worker.start()
        stream.wait_started()
        if outcome.get("throttled"):
            return _answer(429, "Rate Exceeded.", "TooManyRequestsException"), None
        if not stream.streamed:
            worker.join()
            if record.status != InvocationStatus.SUCCESS:
                return _function_failed(record.request_id), None
            body = json.dumps(record.result).encode() if record.result is not None else b"null"
            headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", record.request_id)]
            return HttpResponse(200, headers, body), iter([body])
        chunks = stream.chunks()
        status, headers, first = 200, [("Content-Type", stream.content_type)], b""
        if stream.content_type == HTTP_INTEGRATION:
            status, headers, first = _integration_head(chunks)
        headers.append(("x-amzn-RequestId", record.request_id))

        def body():
            yield first
            yield from chunks
            worker.join()

        return HttpResponse(status, headers), body()

    def _record(self, config: UrlConfig, request: events.ApiRequest, key: str | None):
        request_id = str(uuid.uuid4())
        event = url_event(request, config, key, request_id)
        source, summary, subject = describe(event)
        record = self._service.new_record(
            event,
            config.function_name,
            trigger="function-url",
            source=source,
            summary=summary,
            subject=subject,
            how_detected=f"the function URL {config.url_id} received {request.method} {request.path}",
            how_responded="synchronous: the function URL waits for the function (up to its timeout) and "
            "turns its output into the HTTP response; nothing is retried",
        )
        record.request_id = request_id  # the event's requestId is the invocation's, as on AWS
        return record


def _function_failed(request_id: str) -> HttpResponse:
    """AWS answers a function error (or timeout) with 502 and "Internal Server Error"."""
    return HttpResponse(
        502,
        [("Content-Type", "text/plain; charset=utf-8"), ("x-amzn-RequestId", request_id)],
        b"Internal Server Error",
    )


def _integration_head(chunks: Iterator[bytes]) -> tuple[int, list, bytes]:
    """Status, headers (cookies as Set-Cookie) and the first body bytes from a stream that starts with the
    HTTP integration prelude: JSON, then 8 NUL bytes."""
    from sandbox.lambda_.response_streaming import split_prelude

    buffer = b""
    found = None
    for chunk in chunks:
        buffer += chunk
        found = split_prelude(buffer)
        if found is not None:
            break
    prelude, first = found if found is not None else ({}, buffer)
    try:
        status = int(prelude.get("statusCode", 200))
    except (TypeError, ValueError):
        status = 500
    given = prelude.get("headers") if isinstance(prelude.get("headers"), dict) else {}
    headers = [(str(k), str(v)) for k, v in given.items()]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/octet-stream"))
    cookies = prelude.get("cookies") if isinstance(prelude.get("cookies"), list) else []
    headers += [("Set-Cookie", str(c)) for c in cookies]
    return status, headers, first


class _ForgetDeleted:
    """A function (or an alias) deleted through the API takes its URL with it."""

    def __init__(self, app, configs: UrlConfigs):
        self.app = app
        self.configs = configs

    def __call__(self, environ, start_response):
        match = _FUNCTION_PATH.match(environ.get("PATH_INFO", ""))
        if (
            environ.get("REQUEST_METHOD") != "DELETE"
            or match is None
            or "Qualifier=" in environ.get("QUERY_STRING", "")
        ):
            return self.app(environ, start_response)
        from sandbox.lambda_.api import function_name_from

        name = function_name_from(match.group("name"))
        alias = match.group("alias")

        def start(status, headers, exc_info=None):
            if status.startswith("2"):
                if alias:
                    self.configs.forget_alias(name, unquote(alias))
                else:
                    self.configs.forget_function(name)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)
