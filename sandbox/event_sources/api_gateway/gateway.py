"""The execute-api side: a WSGI app answering an API's URLs as API Gateway does.

Two URL forms reach it: ``http://<api-id>.execute-api.localhost:4566/<stage>/<path>`` (the shape of AWS's
URL) and ``http://127.0.0.1:4566/_aws/execute-api/<api-id>/<stage>/<path>``. The request becomes the
integration's event, the function runs synchronously, and its output becomes the HTTP response
(responses.py). The gateway waits at most the integration's timeout; the function may run on after it.

The URL forms and timeouts: docs/event-sources.md.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http import HTTPStatus

from sandbox.event_sources.api_gateway import events, responses
from sandbox.event_sources.api_gateway.apis import ApiDirectory, select_http_route, select_rest_method
from sandbox.event_sources.api_gateway.responses import HttpResponse, MalformedResponse
from sandbox.host_names import split_host
from sandbox.lambda_.invocation import InvocationStatus

PATH_PREFIX = "/_aws/execute-api/"
HOST_SUFFIX = ".execute-api.localhost"


class IntegrationTimeout(Exception):
    pass


class ExecuteApi:
    def __init__(self, directory: ApiDirectory, invoke: Callable, report: Callable[[str], None]):
        """``invoke(function_name, event, timeout_s, route_key) -> record``: run the function
        synchronously; raises IntegrationTimeout after ``timeout_s``, environment_pool.Throttled, or
        LookupError (no such function)."""
        self.directory = directory
        self.invoke = invoke
        self.report = report
        # ``on_answered(record, status, started)``: an invocation's request was answered (its trace's hop)
        self.on_answered = None

    def __call__(self, environ, start_response):
        located = _locate(environ)
        if located is None:
            return _send(start_response, responses.gateway_error("http", "not found"))
        api_id, path, domain = located
        api = self.directory.api(api_id)
        if api is None:
            return _send(start_response, responses.gateway_error("http", "not found"))
        request = _request(environ, path, domain)
        origin = environ.get("HTTP_ORIGIN")
        if (
            api.kind == "http"
            and api.cors
            and origin
            and request.method == "OPTIONS"
            and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        ):
            return _send(start_response, responses.cors_preflight(api.cors, origin))
        response = self._respond(api, request)
        if api.kind == "http" and api.cors:
            response = responses.with_cors(response, api.cors, origin)
        return _send(start_response, response)

    def _respond(self, api, request: events.ApiRequest) -> HttpResponse:
        segments = request.segments
        found = api.stage_for(segments)
        if found is None:
            return responses.gateway_error(api.kind, "no stage")
        stage, rest = found
        request.stage_prefix = "" if stage.name == "$default" else f"/{stage.name}"
        request.path = "/" + "/".join(rest) if rest else "/"
        select = select_http_route if api.kind == "http" else select_rest_method
        chosen = select(api.routes_of(stage), request.method, rest)
        if chosen is None:
            return responses.gateway_error(api.kind, "not found")
        route, path_parameters = chosen
        integration = route.integration
        function = integration.function_name(stage.variables) if integration else None
        if function is None:
            self.report(
                f"API {api.id}: {route.key} has no Lambda proxy (AWS_PROXY) integration; the sandbox runs "
                f"only those."
            )
            return responses.gateway_error(api.kind, "configuration")
        request_id, extended = events.new_request_ids()
        if api.kind == "http" and integration.payload_version == "2.0":
            event = events.http_api_event(
                request, api.id, route.key, stage.name, path_parameters, stage.variables, extended
            )
        else:
            event = events.proxy_event(
                request,
                api.id,
                route,
                stage.name,
                path_parameters,
                stage.variables,
                (request_id, extended),
                api.binary_media_types,
                http_api=api.kind == "http",
            )
        response = self._run(api, function, event, integration.timeout_ms / 1000, request, route.key)
        response.headers += (
            [("apigw-requestid", extended)]
            if api.kind == "http"
            else [("x-amzn-RequestId", request_id), ("x-amz-apigw-id", extended)]
        )
        return response

    def _run(
        self, api, function: str, event: dict, timeout_s: float, request, route_key: str
    ) -> HttpResponse:
        from sandbox.lambda_.environment_pool import Throttled

        started = time.time()
        try:
            record = self.invoke(function, event, timeout_s, route_key)
        except IntegrationTimeout:
            return responses.gateway_error(api.kind, "timeout")
        except Throttled:
            return responses.gateway_error(api.kind, "throttled")
        except LookupError:
            self.report(f"API {api.id}: its integration names the function {function}, which does not exist.")
            return responses.gateway_error(api.kind, "configuration")
        response = self._response(api, function, event, request, record)
        record.how_responded = f"{record.how_responded}: it answered HTTP {response.status}"
        if self.on_answered is not None:
            self.on_answered(record, response.status, started)
        return response

    def _response(self, api, function: str, event: dict, request, record) -> HttpResponse:
        if record.status != InvocationStatus.SUCCESS:
            return responses.gateway_error(api.kind, "function error")
        try:
            _check_json(record.result)
            if api.kind == "http" and event.get("version") == "2.0":
                return responses.http_api_response(record.result)
            accept = request.header("accept")
            return responses.proxy_response(
                record.result,
                decode_binary=events.matches_media_types(accept, api.binary_media_types),
                http_api=api.kind == "http",
            )
        except MalformedResponse as exc:
            self.report(
                f"API {api.id}: Execution failed due to configuration error: Malformed Lambda proxy "
                f"response from {function} ({exc})."
            )
            return responses.gateway_error(api.kind, "function error")


def _check_json(result) -> None:
    """API Gateway parses the function's output as JSON: ``NaN`` and ``Infinity`` (which Python's json
    writes by default) make it unparseable, so the response is malformed whatever the payload format."""
    try:
        json.dumps(result, allow_nan=False)
    except ValueError:
        raise MalformedResponse("the output is not valid JSON (NaN or Infinity)") from None


def run_with_timeout(run: Callable[[], object], timeout_s: float, name: str):
    """``run()`` in its own thread, waited for at most ``timeout_s``: API Gateway stops waiting at the
    integration timeout while the function goes on (its record completes later)."""
    outcome: dict = {}
    done = threading.Event()

    def target():
        try:
            outcome["value"] = run()
        except BaseException as exc:  # handed to the waiting request
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name=name, daemon=True).start()
    if not done.wait(timeout_s):
        raise IntegrationTimeout()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _locate(environ) -> tuple[str, str, str] | None:
    """(api id, raw path after it, the API's domain name) from either URL form."""
    name = split_host(environ.get("HTTP_HOST") or "")[0]
    raw = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/").split(
        "?", 1
    )[0]
    if raw.startswith("http://") or raw.startswith("https://"):  # an absolute request target
        raw = "/" + raw.split("/", 3)[3] if raw.count("/") >= 3 else "/"
    if name.endswith(HOST_SUFFIX):
        api_id = name[: -len(HOST_SUFFIX)]
        return (api_id, raw, name) if api_id and "." not in api_id else None
    if raw.startswith(PATH_PREFIX):
        api_id, _, rest = raw[len(PATH_PREFIX) :].partition("/")
        return (api_id, "/" + rest, f"{api_id}{HOST_SUFFIX}") if api_id else None
    return None


def _headers(environ) -> tuple[list, bool]:
    """The request's headers and whether they are as the client sent them: the endpoint's raw headers
    (names' case, order and repeats kept), else rebuilt from the WSGI environ, which has lost the names'
    case (``HTTP_X_MULTI``) and joined repeated headers with commas."""
    raw = environ.get("sandbox.raw_headers")
    if raw is not None:
        return [(str(k), str(v)) for k, v in raw], True
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].lower().replace("_", "-"), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.lower().replace("_", "-"), value))
    return headers, False


def _request(environ, path: str, domain: str) -> events.ApiRequest:
    headers, as_sent = _headers(environ)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    body = stream.read(length) if length else (stream.read() if environ.get("wsgi.input_terminated") else b"")
    return events.ApiRequest(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        path=path,
        stage_prefix="",
        query_string=environ.get("QUERY_STRING", ""),
        headers=headers,
        body=body,
        source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
        domain_name=domain,
        names_as_sent=as_sent,
        port=str(split_host(environ.get("HTTP_HOST") or "")[1] or environ.get("SERVER_PORT", "80")),
        protocol=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
    )


def _send(start_response, response: HttpResponse):
    headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(response.body))))
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Status"
    start_response(f"{response.status} {reason}", headers)
    return [response.body]
