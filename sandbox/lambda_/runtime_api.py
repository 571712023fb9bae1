"""The Lambda Runtime API: the HTTP interface between the service and one runtime process.

Each execution environment gets its own endpoint (``AWS_LAMBDA_RUNTIME_API``, a plain ``host:port``) on a
free loopback port, with AWS's routes and headers (``/2018-06-01/runtime/invocation/next``,
``.../{id}/response``, ``.../{id}/error``, ``/runtime/init/error``), so ``awslambdaric`` works unchanged.
Only the environment's own runtime process (or one it started) is served (socket_owner.py). What the
runtime says goes to a ``RuntimeApiListener``.

The routes, headers and the check on who is served: docs/execution-environment.md.
"""

from __future__ import annotations

import base64
import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Protocol

from sandbox.host_names import is_loopback_address, is_loopback_name, split_host
from sandbox.http_server import BoundedThreadingMixIn
from sandbox.lambda_.response_streaming import ResponseStream
from sandbox.lambda_.socket_owner import held_by

PREFIX = "/2018-06-01/runtime"


@dataclass
class NextInvocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None
    headers: dict = field(default_factory=dict)


class RuntimeApiListener(Protocol):
    def on_next_requested(self) -> None: ...
    def on_response(self, request_id: str, payload: bytes) -> None: ...
    def on_error(self, request_id: str, payload: bytes, error_type: str | None) -> None: ...
    def on_init_error(self, payload: bytes, error_type: str | None) -> None: ...
    def on_stream_start(self, request_id: str, content_type: str | None) -> ResponseStream | None: ...


# Headers only a browser sends (and every Sec-Fetch-*): a request carrying one comes from a web page.
BROWSER_HEADERS = ("origin", "referer")
WORKER_CONNECTIONS = 16  # a runtime keeps one or two; its extensions or children may open a few more
OTHER_CONNECTIONS = 4  # connections from anyone else, only ever refused, never take the worker's places


class _QuietServer(BoundedThreadingMixIn, HTTPServer):
    """Connections from the worker and from anyone else count against separate bounds, so other local
    processes cannot crowd the runtime out."""

    wait_for_slot_s = 0  # over its bound, a connection is refused at once: the accept loop never waits

    def __init__(self, address, handler, worker_pid: Callable[[], int | None]):
        super().__init__(address, handler)
        self.worker_pid = worker_pid
        self.worker_connections: set = set()
        self._worker_slots = threading.BoundedSemaphore(WORKER_CONNECTIONS)
        self._other_slots = threading.BoundedSemaphore(OTHER_CONNECTIONS)

    def _slots_for(self, request, client_address):
        if held_by(self.worker_pid(), client_address, self.server_address):
            self.worker_connections.add(request)
            return self._worker_slots
        return self._other_slots

    def close_request(self, request):
        self.worker_connections.discard(request)
        super().close_request(request)

    def handle_error(self, request, client_address):
        pass  # a runtime process that died mid-request is reported by its environment, not here


class RuntimeApiServer:
    """One Runtime API endpoint. ``put(NextInvocation)`` queues the event that ``/next`` will return."""

    # Long on purpose: the request handler is a class defined here, closing over this server's listener and
    # worker; its methods are the Runtime API's routes, read together with the checks they share.
    def __init__(
        self, listener: RuntimeApiListener, worker_pid: Callable[[], int | None], host: str = "127.0.0.1"
    ):
        """``worker_pid()`` is the environment's runtime process, the only one served (None: nobody)."""
        self.listener = listener
        self._events: queue.Queue[NextInvocation | None] = queue.Queue()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and
            # delayed ACKs add ~40 ms to every keep-alive exchange.
            disable_nagle_algorithm = True

            def setup(self):
                super().setup()
                self.from_worker = self.request in self.server.worker_connections
                if self.from_worker:
                    # The runtime is silent on its connection while its handler runs, up to the
                    # function's timeout; it is killed at the deadline, which closes the connection.
                    self.connection.settimeout(None)

            def log_message(self, *args):  # quiet: the terminal shows the function's logs
                pass

            def do_OPTIONS(self):
                self._foreign() or self._reply(405)

            def _reply(self, status: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    return self._chunked_body()  # as Node's http module sends a body of unknown length
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _chunked_body(self) -> bytes:
                chunks = []
                while True:
                    size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline(1024)
                while self.rfile.readline(65536).strip():  # trailers, up to the blank line
                    pass
                return b"".join(chunks)

            def _streamed_response(self, request_id: str) -> None:
                """A response posted in streaming mode: each chunk goes on as it arrives
                (response_streaming.py); an error part-way through comes in the trailers."""
                stream = api.listener.on_stream_start(request_id, self.headers.get("Content-Type"))
                trailers: dict[str, str] = {}
                while True:
                    size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        break
                    chunk = self.rfile.read(size)
                    self.rfile.readline(1024)
                    if stream is not None:
                        stream.write(chunk)
                while True:
                    line = self.rfile.readline(65536).strip()
                    if not line:
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    trailers[name.strip().lower()] = value.strip()
                error_type = trailers.get("lambda-runtime-function-error-type")
                if stream is not None and stream.too_large:
                    body = json.dumps(
                        {
                            "errorType": "Function.ResponseSizeTooLarge",
                            "errorMessage": f"Response payload size exceeded maximum allowed payload size "
                            f"({stream.limit} bytes).",
                        }
                    ).encode()
                    api.listener.on_error(request_id, body, "Function.ResponseSizeTooLarge")
                elif error_type:
                    try:
                        body = base64.b64decode(trailers.get("lambda-runtime-function-error-body", ""))
                    except ValueError:
                        body = b""
                    api.listener.on_error(request_id, body, error_type)
                else:
                    api.listener.on_response(request_id, b"")
                self._reply(202, b'{"status":"OK"}')

            def _foreign(self) -> bool:
                """Only the runtime process of this environment talks to its Runtime API: a request from
                another process, from another machine, from a web page (Origin, Referer or Sec-Fetch-*)
                or under a foreign Host name (DNS rebinding) is refused, and the connection closed.
                AWS's Runtime API is unreachable from outside the execution environment."""
                name, _ = split_host(self.headers.get("Host") or "127.0.0.1")
                browser = any(
                    header.lower() in BROWSER_HEADERS or header.lower().startswith("sec-fetch-")
                    for header in self.headers.keys()
                )
                if (
                    self.from_worker
                    and is_loopback_address(self.client_address[0])
                    and is_loopback_name(name)
                    and not browser
                ):
                    return False
                self.close_connection = True
                length = self.headers.get("Content-Length") or ""
                if length.isdigit() and int(length) <= 65536:
                    self._body()  # a small body is read, so the client sees the answer, not a reset
                self._reply(
                    403,
                    b'{"errorType":"AccessDenied","errorMessage":"The Runtime API serves only '
                    b'the runtime process of its own execution environment."}',
                    {"Connection": "close"},
                )
                return True

            def do_GET(self):
                if self._foreign():
                    return
                if self.path != PREFIX + "/invocation/next":
                    return self._reply(404, b'{"errorType":"NotFound"}')
                api.listener.on_next_requested()
                item = api._events.get()
                if item is None:  # shutting down
                    return self._reply(410, b'{"errorType":"Gone"}')
                headers = {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": item.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(item.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": item.invoked_function_arn,
                    "Lambda-Runtime-Trace-Id": item.trace_id,
                }
                if item.client_context:
                    headers["Lambda-Runtime-Client-Context"] = item.client_context
                if item.cognito_identity:
                    headers["Lambda-Runtime-Cognito-Identity"] = item.cognito_identity
                self._reply(200, item.payload, headers)

            def do_POST(self):
                if self._foreign():
                    return
                path = self.path
                if path.startswith(PREFIX + "/invocation/") and path.endswith("/response"):
                    request_id = path[len(PREFIX + "/invocation/") : -len("/response")]
                    if (
                        self.headers.get("Lambda-Runtime-Function-Response-Mode") or ""
                    ).lower() == "streaming" and (
                        "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
                    ):
                        return self._streamed_response(request_id)
                body = self._body()
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                if path == PREFIX + "/init/error":
                    api.listener.on_init_error(body, error_type)
                    return self._reply(202, b'{"status":"OK"}')
                if path.startswith(PREFIX + "/invocation/"):
                    request_id, _, action = path[len(PREFIX + "/invocation/") :].partition("/")
                    if action == "response":
                        api.listener.on_response(request_id, body)
                        return self._reply(202, b'{"status":"OK"}')
                    if action == "error":
                        api.listener.on_error(request_id, body, error_type)
                        return self._reply(202, b'{"status":"OK"}')
                self._reply(404, json.dumps({"errorType": "NotFound", "path": path}).encode())

        self._server = _QuietServer((host, 0), Handler, worker_pid)
        self._thread = threading.Thread(target=self._server.serve_forever, name="runtime-api", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> RuntimeApiServer:
        self._thread.start()
        return self

    def put(self, invocation: NextInvocation) -> None:
        self._events.put(invocation)

    def stop(self) -> None:
        self._events.put(None)
        self._server.shutdown()
        self._server.server_close()
