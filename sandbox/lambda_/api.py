"""Lambda's API through the local endpoint, made real: functions run in the sandbox, not in moto.

A WSGI middleware around moto's Lambda application. moto keeps the control plane; this layer answers
``Invoke`` itself (``RequestResponse``, ``Event``, ``DryRun``), validates and applies
``update-function-configuration``, and unpacks the zips of ``create-function``, ``update-function-code``
and ``publish-layer-version``, so a deployed function really runs. Every request is first checked as
Lambda checks it (validation.py).

What each operation does here: docs/execution-environment.md.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import threading
from http import HTTPStatus
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

from sandbox.lambda_.invocation import InvocationStatus
from sandbox.lambda_.validation import LambdaApiError, find_operation, request_limit, too_large, validate
from sandbox.lambda_.versions import split_reference
from sandbox.wsgi import call, read_body

_log = logging.getLogger(__name__)

_FUNCTION_PATH = re.compile(r"^/(?P<version>[^/]+)/functions/(?P<name>[^/]+)(?P<rest>/.*)?$")
_LAYER_PATH = re.compile(r"^/(?P<version>[^/]+)/layers/(?P<name>[^/]+)/versions/?$")
_MAPPING_PATH = re.compile(r"^/(?P<version>[^/]+)/event-source-mappings/?(?P<uuid>[^/]*)/?$")
LOG_TAIL_BYTES = 4096


_NOT_JSON = object()  # an Invoke body that does not parse as JSON


class FunctionHooks(Protocol):
    """What the interceptor needs from the sandbox."""

    def knows_function(self, name: str) -> bool: ...
    def knows_qualifier(self, name: str, qualifier: str | None) -> bool: ...
    def function_arn(self, name: str, qualifier: str | None = None) -> str: ...
    def invoke_from_api(
        self,
        name: str,
        event,
        asynchronous: bool,
        client_context: str | None,
        qualifier: str | None = None,
        trace_header: str | None = None,
    ): ...
    def invoke_streaming(
        self, name: str, event, client_context: str | None, stream, qualifier: str | None = None
    ): ...
    def log_tail(self, request_id: str, limit_bytes: int) -> str: ...
    def check_configuration(self, name: str, changes: dict) -> None: ...
    def apply_configuration(self, name: str, changes: dict) -> None: ...
    def prepare_code(self, name: str, zip_bytes: bytes) -> Path: ...
    def apply_code(self, name: str, folder: Path) -> None: ...
    def discard_code(self, folder: Path) -> None: ...
    def new_function(self, request: dict): ...
    def function_created(self, function) -> None: ...
    def prepare_layer(self, layer_name: str, zip_bytes: bytes) -> Path: ...
    def layer_published(self, folder: Path, response: dict) -> None: ...
    def function_deleted(self, name: str) -> None: ...
    def version_published(self, name: str, version: str): ...
    def version_deleted(self, name: str, version: str) -> None: ...
    def aliases_of_version(self, name: str, version: str) -> list[str]: ...
    def alias(self, name: str, alias_name: str): ...
    def alias_changed(self, name: str, alias) -> None: ...
    def alias_deleted(self, name: str, alias_name: str) -> None: ...
    def set_recursion(self, name: str, allow: bool) -> None: ...
    def recursion_allowed_for(self, name: str) -> bool: ...
    def apply_event_invoke_config(self, name: str, request: dict, replace: bool = False) -> dict | None: ...
    def check_mapping(self, request: dict) -> str | None: ...
    def mapping_changed(self, mapping: dict) -> None: ...
    def mapping_deleted(self, uuid: str) -> None: ...


def function_name_from(identifier: str) -> str:
    """A function is named by name, partial ARN or full ARN (optionally with a qualifier)."""
    identifier = unquote(identifier)
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        return parts[6] if len(parts) > 6 else identifier
    if ":function:" in identifier:
        return identifier.split(":function:")[1].split(":")[0]
    return identifier.split(":")[0]


def query_value(environ, key: str) -> str | None:
    """One query-string parameter (decoded), or None."""
    values = parse_qs(environ.get("QUERY_STRING", "")).get(key)
    return values[0] if values else None


def _json_response(start_response, status: str, body: dict, headers: list | None = None):
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))] + (headers or [])
    )
    return [data]


def _error(start_response, status: str, error_type: str, message: str):
    return _json_response(
        start_response, status, {"Type": "User", "message": message}, [("x-amzn-ErrorType", error_type)]
    )


# Lambda's bounds of put- and update-function-event-invoke-config (botocore's model checks only the minimum).
EVENT_INVOKE_CONFIG_BOUNDS = {"MaximumRetryAttempts": (0, 2), "MaximumEventAgeInSeconds": (60, 21_600)}


def event_invoke_config_problem(request: dict) -> str | None:
    """Lambda's ValidationException for a retry count or event age out of its bounds, as AWS writes it."""
    for key, (low, high) in EVENT_INVOKE_CONFIG_BOUNDS.items():
        value = request.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, int):
            continue
        field = key[0].lower() + key[1:]
        if value < low:
            limit = f"greater than or equal to {low}"
        elif value > high:
            limit = f"less than or equal to {high}"
        else:
            continue
        return (
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
            f"Member must have value {limit}"
        )
    return None


def _api_error(start_response, error: LambdaApiError):
    status = f"{error.status} {HTTPStatus(error.status).phrase}"
    return _error(start_response, status, error.code, error.message)


def _with_request(environ, method: str, body: bytes) -> dict:
    """A copy of the request with another method and body, for the app behind."""
    copy = dict(environ, REQUEST_METHOD=method, CONTENT_LENGTH=str(len(body)))
    copy["wsgi.input"] = io.BytesIO(body)
    return copy


def _raw_path(environ) -> str:
    """The path as the client sent it (percent-encoded), so an encoded ``/`` stays inside its segment."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return urlsplit(raw).path if raw.startswith(("http://", "https://")) else raw.split("?", 1)[0]
    return quote(environ.get("PATH_INFO", ""))


def _body_within(environ, limit: int) -> bool:
    """Is the request's body at most ``limit`` bytes? A larger one is read and dropped in pieces (never held
    in memory), so the client hears the answer instead of a reset connection."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return True
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if not environ.get("wsgi.input_terminated"):
        if length <= limit:
            return True
        while length > 0:
            chunk = stream.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)
        return False
    kept = stream.read(limit + 1)
    if len(kept) <= limit:
        environ["wsgi.input"] = io.BytesIO(kept)
        return True
    while stream.read(1 << 20):
        pass
    return False


class LambdaApiInterceptor:
    def __init__(self, app, hooks: FunctionHooks):
        from sandbox.lambda_.versions_api import VersionsApi

        self.app = app
        self.hooks = hooks
        self.versions = VersionsApi(app, hooks)

    def __call__(self, environ, start_response):
        """Lambda's answer to every request: a refused one gets Lambda's error; an unexpected failure of
        the sandbox a JSON ServiceException (its traceback in the log), never an HTML page."""
        started: list[str] = []

        def start(status, headers, exc_info=None):
            started.append(status)
            return start_response(status, headers, exc_info)

        try:
            self._check(environ)
            return self._route(environ, start)
        except LambdaApiError as exc:
            if started:
                raise
            return _api_error(start_response, exc)
        except Exception:
            if started:
                raise
            _log.exception(
                "The sandbox failed on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
            )
            return _error(
                start_response,
                "500 Internal Server Error",
                "ServiceException",
                "The sandbox failed on this request; the sandbox's log has the traceback.",
            )

    def _check(self, environ) -> None:
        """Lambda's checks (sizes, names, patterns, types) before anything acts on the request."""
        found = find_operation(
            environ.get("REQUEST_METHOD", "GET"), _raw_path(environ), environ.get("QUERY_STRING", "")
        )
        if found is None:
            return
        operation, path_params = found
        limit = request_limit(operation, environ.get("HTTP_X_AMZ_INVOCATION_TYPE"))
        if limit is not None and not _body_within(environ, limit):
            raise too_large(operation, limit)
        validate(operation, path_params, environ.get("QUERY_STRING", ""), read_body(environ))

    def _route(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        match = _FUNCTION_PATH.match(path)
        if match:
            name = function_name_from(match.group("name"))
            rest = (match.group("rest") or "").rstrip("/")
            if method == "POST" and rest == "/invocations" and self.hooks.knows_function(name):
                return self._invoke(match.group("name"), environ, start_response)
            if (rest == "/versions" or rest.startswith("/aliases")) and self.hooks.knows_function(name):
                return self.versions.route(name, method, rest, environ, start_response)
            if (
                method == "POST"
                and rest == "/response-streaming-invocations"
                and self.hooks.knows_function(name)
            ):
                return self._invoke_with_response_stream(match.group("name"), environ, start_response)
            if method == "PUT" and rest == "/configuration":
                return self._update_configuration(name, environ, start_response)
            if method == "PUT" and rest == "/code":
                return self._update_code(name, environ, start_response)
            if rest == "/recursion-config" and self.hooks.knows_function(name):
                return self._recursion_config(name, method, environ, start_response)
            if method == "PUT" and rest == "/concurrency" and self.hooks.knows_function(name):
                return self._put_concurrency(name, environ, start_response)
            if (
                method in ("PUT", "POST", "DELETE")
                and rest == "/event-invoke-config"
                and self.hooks.knows_function(name)
            ):
                return self._event_invoke_config(name, method, environ, start_response)
            if method == "DELETE" and rest == "":
                _, qualifier = split_reference(match.group("name"), query_value(environ, "Qualifier"))
                if qualifier is not None and self.hooks.knows_function(name):
                    return self.versions.delete_version(name, qualifier, environ, start_response)
                captured = call(self.app, environ)
                if captured.code < 300:
                    self.hooks.function_deleted(name)
                return captured.replay(start_response)
        if method == "POST" and path.rstrip("/").endswith("/functions"):
            return self._create_function(environ, start_response)
        layer = _LAYER_PATH.match(path)
        if method == "POST" and layer:
            return self._publish_layer(unquote(layer.group("name")).split(":")[-1], environ, start_response)
        mapping = _MAPPING_PATH.match(path)
        if mapping and method in ("POST", "PUT", "DELETE"):
            return self._event_source_mapping(method, mapping.group("uuid"), environ, start_response)
        return self.app(environ, start_response)

    # -- helpers -------------------------------------------------------------------------------------

    # -- data plane ----------------------------------------------------------------------------------
    def _invocation_request(self, identifier, environ):
        """What Invoke and InvokeWithResponseStream both read first: the function and qualifier (404 when
        unknown), the invocation type and the JSON event (None: the body is not JSON)."""
        name, qualifier = split_reference(identifier, query_value(environ, "Qualifier"))
        if not self.hooks.knows_qualifier(name, qualifier):
            arn = self.hooks.function_arn(name, qualifier)
            raise LambdaApiError(404, "ResourceNotFoundException", f"Function not found: {arn}")
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        body = read_body(environ)
        try:
            event = json.loads(body) if body.strip() else {}
        except ValueError:
            event = _NOT_JSON
        return name, qualifier, invocation_type, event

    @staticmethod
    def _answer_before_invoking(invocation_type, event, start_response):
        """The answer when there is nothing to invoke: a body that is not JSON, or a DryRun; else None."""
        if event is _NOT_JSON:
            return _error(
                start_response,
                "400 Bad Request",
                "InvalidRequestContentException",
                "Could not parse request body into json: the payload is not valid JSON.",
            )
        if invocation_type == "DryRun":
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        return None

    def _invoke(self, identifier, environ, start_response):
        name, qualifier, invocation_type, event = self._invocation_request(identifier, environ)
        answer = self._answer_before_invoking(invocation_type, event, start_response)
        if answer is not None:
            return answer
        from sandbox.lambda_.environment_pool import Throttled

        try:
            record = self.hooks.invoke_from_api(
                name,
                event,
                invocation_type == "Event",
                environ.get("HTTP_X_AMZ_CLIENT_CONTEXT"),
                qualifier,
                trace_header=environ.get("HTTP_X_AMZN_TRACE_ID"),
            )
        except Throttled as exc:
            return _error(start_response, "429 Too Many Requests", "TooManyRequestsException", str(exc))
        headers = [("x-amzn-RequestId", record.request_id)]
        if invocation_type == "Event":
            start_response("202 Accepted", headers + [("Content-Length", "0")])
            return [b""]
        payload = json.dumps(record.result).encode() if record.result is not None else b"null"
        headers.append(("X-Amz-Executed-Version", record.executed_version or "$LATEST"))
        if record.status != InvocationStatus.SUCCESS:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
        if environ.get("HTTP_X_AMZ_LOG_TYPE") == "Tail":
            tail = self.hooks.log_tail(record.request_id, LOG_TAIL_BYTES)
            headers.append(("X-Amz-Log-Result", base64.b64encode(tail.encode()).decode()))
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        start_response("200 OK", headers)
        return [payload]

    def _invoke_with_response_stream(self, name, environ, start_response):
        """InvokeWithResponseStream: the function's bytes go out as ``PayloadChunk`` events as the runtime
        writes them, then ``InvokeComplete`` (with the error, if any, and the log tail)."""
        name, qualifier, invocation_type, event = self._invocation_request(name, environ)
        answer = self._answer_before_invoking(invocation_type, event, start_response)
        if answer is not None:
            return answer
        from sandbox.lambda_ import response_streaming
        from sandbox.lambda_.environment_pool import Throttled

        stream = response_streaming.ResponseStream()
        outcome: dict = {}

        def run():
            try:
                outcome["record"] = self.hooks.invoke_streaming(
                    name, event, environ.get("HTTP_X_AMZ_CLIENT_CONTEXT"), stream, qualifier
                )
            except Throttled as exc:
                outcome["throttled"] = exc
            except Exception:
                _log.exception("The sandbox failed on InvokeWithResponseStream of %s", name)
                outcome["failed"] = True
            finally:
                stream.finish()

        worker = threading.Thread(target=run, name=f"stream-{name}", daemon=True)
        worker.start()
        stream.wait_started()
        if "throttled" in outcome:
            return _error(
                start_response, "429 Too Many Requests", "TooManyRequestsException", str(outcome["throttled"])
            )
        start_response(
            "200 OK",
            [
                ("Content-Type", response_streaming.EVENT_STREAM),
                ("X-Amz-Executed-Version", getattr(stream.record, "executed_version", None) or "$LATEST"),
            ],
        )
        tail = environ.get("HTTP_X_AMZ_LOG_TYPE") == "Tail"
        return self._stream_events(stream, worker, outcome, tail)

    def _stream_events(self, stream, worker, outcome: dict, tail: bool):
        from sandbox.lambda_ import response_streaming

        for chunk in stream.chunks():
            yield response_streaming.payload_chunk(chunk)
        worker.join()
        record = outcome.get("record")
        if record is None:
            yield response_streaming.invoke_complete(
                "ServiceException", "The sandbox failed on this request; its log has the traceback."
            )
            return
        if not stream.streamed and record.status == InvocationStatus.SUCCESS:
            # A function that does not stream: its whole response in one chunk, as Lambda sends it.
            payload = json.dumps(record.result).encode() if record.result is not None else b"null"
            yield response_streaming.payload_chunk(payload)
        log = None
        if tail:
            log = base64.b64encode(self.hooks.log_tail(record.request_id, LOG_TAIL_BYTES).encode()).decode()
        if record.status == InvocationStatus.SUCCESS:
            yield response_streaming.invoke_complete(log_result=log)
        else:
            details = record.result if isinstance(record.result, dict) else {}
            yield response_streaming.invoke_complete(
                record.error_type or "Unhandled",
                json.dumps(details) if details else record.error_message or "",
                log,
            )

    # -- control plane -------------------------------------------------------------------------------
    def _update_configuration(self, name, environ, start_response):
        from sandbox.errors import ConfigError

        try:
            changes = json.loads(read_body(environ) or b"{}")
        except ValueError:
            changes = {}
        if self.hooks.knows_function(name):
            try:
                self.hooks.check_configuration(name, changes)
            except ConfigError as exc:
                return _error(start_response, "400 Bad Request", "InvalidParameterValueException", str(exc))
        captured = call(self.app, environ)
        if captured.code < 300 and self.hooks.knows_function(name):
            self.hooks.apply_configuration(name, changes)
        return captured.replay(start_response)

    def _recursion_config(self, name, method, environ, start_response):
        """Put/GetFunctionRecursionConfig: "Terminate" (the default) or "Allow"."""
        if method == "PUT":
            try:
                value = json.loads(read_body(environ) or b"{}").get("RecursiveLoop", "Terminate")
            except ValueError:
                value = ""
            if value not in ("Allow", "Terminate"):
                return _error(
                    start_response,
                    "400 Bad Request",
                    "InvalidParameterValueException",
                    "RecursiveLoop must be Allow or Terminate.",
                )
            self.hooks.set_recursion(name, value == "Allow")
            return _json_response(start_response, "200 OK", {"RecursiveLoop": value})
        value = "Allow" if self.hooks.recursion_allowed_for(name) else "Terminate"
        return _json_response(start_response, "200 OK", {"RecursiveLoop": value})

    def _put_concurrency(self, name, environ, start_response):
        """put-function-concurrency: the most environments the function may have at once."""
        from sandbox.errors import ConfigError

        try:
            value = json.loads(read_body(environ) or b"{}").get("ReservedConcurrentExecutions")
            self.hooks.apply_configuration(name, {"ReservedConcurrentExecutions": value})
        except (ConfigError, ValueError, TypeError) as exc:
            return _error(start_response, "400 Bad Request", "InvalidParameterValueException", str(exc))
        return call(self.app, environ).replay(start_response)

    def _event_invoke_config(self, name, method, environ, start_response):
        """Put (replaces), update (changes) and delete (back to the defaults) the asynchronous settings."""
        from sandbox.errors import ConfigError

        try:
            request = json.loads(read_body(environ) or b"{}") if method != "DELETE" else {}
        except ValueError:
            request = {}
        problem = event_invoke_config_problem(request)
        if problem:
            return _error(start_response, "400 Bad Request", "ValidationException", problem)
        try:
            stored = self.hooks.apply_event_invoke_config(name, request, replace=method != "POST")
        except (ConfigError, ValueError, TypeError) as exc:
            return _error(start_response, "400 Bad Request", "InvalidParameterValueException", str(exc))
        if method == "DELETE":
            return call(self.app, environ).replay(start_response)
        # moto keeps a list and answers its first, and its update replaces: it is given the whole new
        # configuration in place of the old, so get-function-event-invoke-config says what runs.
        call(self.app, _with_request(environ, "DELETE", b""))
        captured = call(self.app, _with_request(environ, "PUT", json.dumps(stored or request).encode()))
        if captured.code >= 400:  # moto may not know this API: answer as Lambda does
            return _json_response(start_response, "200 OK", dict(stored or request, FunctionArn=name))
        return captured.replay(start_response)

    def _update_code(self, name, environ, start_response):
        request = json.loads(read_body(environ) or b"{}")  # valid JSON: checked by _check
        folder = None
        if request.get("ZipFile") and self.hooks.knows_function(name):
            folder = self.hooks.prepare_code(name, base64.b64decode(request["ZipFile"]))
        captured = call(self.app, environ)
        if folder is not None:
            if captured.code < 300:
                self.hooks.apply_code(name, folder)
            else:
                self.hooks.discard_code(folder)
        self._published(name, request, captured)
        return captured.replay(start_response)

    def _published(self, name: str, request: dict, captured) -> None:
        """``--publish`` on create-function or update-function-code: the version it made is frozen too."""
        version = str(captured.json().get("Version") or "") if captured.code < 300 else ""
        if request.get("Publish") and version.isdigit() and self.hooks.knows_function(name):
            self.hooks.version_published(name, version)

    def _create_function(self, environ, start_response):
        from sandbox.errors import ConfigError

        request = json.loads(read_body(environ) or b"{}")  # valid JSON: checked by _check
        try:
            function = self.hooks.new_function(request)
        except ConfigError as exc:  # refused before moto stores anything, as Lambda does
            return _error(start_response, "400 Bad Request", "InvalidParameterValueException", str(exc))
        captured = call(self.app, environ)
        if function is not None:
            if captured.code < 300:
                self.hooks.function_created(function)
            else:
                self.hooks.discard_code(function.code_dir)
        self._published(str(request.get("FunctionName") or ""), request, captured)
        return captured.replay(start_response)

    def _event_source_mapping(self, method, uuid, environ, start_response):
        """create/update/delete-event-source-mapping: validated as Lambda does, stored by moto, run by the
        sandbox's pollers (moto's own delivery is switched off in sandbox/endpoint/server.py)."""
        try:
            request = json.loads(read_body(environ) or b"{}")
        except ValueError:
            request = {}
        if method == "POST":
            problem = self.hooks.check_mapping(request)
            if problem:
                return _error(start_response, "400 Bad Request", "InvalidParameterValueException", problem)
        captured = call(self.app, environ)
        if captured.code < 300:
            if method == "DELETE":
                self.hooks.mapping_deleted(uuid)
            else:
                self.hooks.mapping_changed(captured.json())
        return captured.replay(start_response)

    def _publish_layer(self, layer_name, environ, start_response):
        request = json.loads(read_body(environ) or b"{}")  # valid JSON: checked by _check
        zip_b64 = (request.get("Content") or {}).get("ZipFile")
        folder = self.hooks.prepare_layer(layer_name, base64.b64decode(zip_b64)) if zip_b64 else None
        captured = call(self.app, environ)
        if folder is not None:
            if captured.code < 300:
                self.hooks.layer_published(folder, captured.json())
            else:
                self.hooks.discard_code(folder)
        return captured.replay(start_response)
