"""Thread-per-connection HTTP servers that slow or idle clients cannot exhaust.

Every server of the sandbox (the endpoint, the page, each Runtime API) serves one thread per connection.
So each read waits at most ``read_timeout_s`` for the client (then the connection is closed), a response
write at most ``write_timeout_s``, and at most ``max_connections`` connections are served at once. A
connection over the bound waits up to ``wait_for_slot_s`` for one to end, then gets a 503 with
``Retry-After`` (AWS sheds load with 503s too, S3's ``SlowDown``; the SDKs retry them).
"""

from __future__ import annotations

import socket
import socketserver
import threading

from werkzeug.serving import BaseWSGIServer
from werkzeug.wsgi import LimitedStream

# AWS S3 closes a connection that sends nothing for about 20 seconds (RequestTimeout); so does the sandbox.
READ_TIMEOUT_S = 20.0
WRITE_TIMEOUT_S = 300.0  # a client that stops reading a response frees its thread after this long
KEEP_ALIVE_IDLE_S = 5.0  # a kept-alive connection with no next request is closed after this long
KEEP_ALIVE_DRAIN_BYTES = 1 << 20  # a body left unread up to this size is read, the connection kept
BUSY_MESSAGE = "Too many open connections to this server; retry shortly."


class BoundedThreadingMixIn(socketserver.ThreadingMixIn):
    """``socketserver.ThreadingMixIn`` with a bound on the connections served at once."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog (werkzeug's); socketserver's 5 drops bursts of connects
    max_connections = 128
    wait_for_slot_s = 1.0
    read_timeout_s = READ_TIMEOUT_S
    write_timeout_s = WRITE_TIMEOUT_S
    stopped = False  # set by shutdown(): kept-alive connections serve nothing more (KeepAliveMixIn)
    _slots: threading.Semaphore | None = None
    _serving: set | None = None

    def shutdown(self) -> None:
        """Stop serve_forever now, not at its next 0.5 s poll (an idle server wakes only that often): the
        stop request is set, then a connection of the server's own wakes the accepting thread's select(),
        which sees the request before accepting anything (the connection is closed unserved with the
        listening socket). An environment's Runtime API stops as the environment ends, so this counts."""
        self._BaseServer__shutdown_request = True  # what BaseServer.shutdown() sets, before the wake-up
        self.stopped = True
        host, port = self.server_address[:2]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        try:
            socket.create_connection((host, port), timeout=0.5).close()
        except OSError:  # no wake-up: the thread sees the request at its next poll
            pass
        super().shutdown()

    def _slots_for(self, request, client_address) -> threading.Semaphore:
        """The pool of slots this connection counts against (one pool unless a server says otherwise)."""
        if self._slots is None:  # only the accepting thread gets here
            self._slots = threading.BoundedSemaphore(self.max_connections)
        return self._slots

    def process_request(self, request, client_address):
        slots = self._slots_for(request, client_address)
        if self._serving is None:  # only the accepting thread gets here
            self._serving = set()
        if not slots.acquire(timeout=self.wait_for_slot_s):
            refuse_busy(request)
            self.close_request(request)
            return
        request.settimeout(self.read_timeout_s)
        thread = threading.Thread(
            target=self._serve_in_slot, args=(request, client_address, slots), daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # the process cannot start another thread: as over the bound
            slots.release()
            refuse_busy(request)
            self.close_request(request)

    @property
    def serving(self) -> int:
        """Connections a thread is serving now (each holds a slot)."""
        return len(self._serving or ())

    def _serve_in_slot(self, request, client_address, slots) -> None:
        me = threading.get_ident()
        self._serving.add(me)  # a set's add and discard are atomic under the GIL
        try:
            self.process_request_thread(request, client_address)
        finally:
            self._serving.discard(me)
            slots.release()


def refuse_busy(request: socket.socket) -> None:
    """Answer 503 on a connection no thread will serve, without waiting on the client."""
    body = ('{"message": "' + BUSY_MESSAGE + '"}').encode()
    try:
        request.settimeout(0)
        try:  # read what already arrived, so closing does not reset the connection before the answer
            request.recv(65536)
        except OSError:
            pass
        request.settimeout(0.2)
        request.sendall(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        request.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        request.close()


class WriteTimeoutMixIn:
    """For a ``BaseHTTPRequestHandler``: once the response starts, the client's reads are timed with the
    server's ``write_timeout_s`` instead of its read timeout (a large object takes a while to download)."""

    def send_response(self, code, message=None):
        try:
            self.connection.settimeout(self.server.write_timeout_s)
        except OSError:
            pass
        super().send_response(code, message)


def no_body_for_head(app):
    """WSGI middleware: a response to HEAD has no body (RFC 9110, 9.3.2), whatever ``app`` returns. werkzeug
    writes what the app gives, and some answers (a refusal, an error page) are built once for every method;
    their headers, Content-Length included, are kept, as a HEAD response's should be."""

    def wrapped(environ, start_response):
        body = app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "HEAD":
            return body
        try:
            for _ in body:  # an app that is a generator calls start_response as it is read
                pass
        finally:
            if hasattr(body, "close"):
                body.close()
        return []

    return wrapped


class _RequestBody(LimitedStream):
    """A request's body, framed by its Content-Length. A client gone before the body's end reads here as
    its end: the app's own reader (werkzeug's Request) still finds the body short and raises, as before,
    while the reads after the response (werkzeug's drain, KeepAliveMixIn's) end quietly instead of
    printing werkzeug's ClientDisconnected on the terminal."""

    def on_disconnect(self, error=None):
        return None


class KeepAliveMixIn:
    """For werkzeug's ``WSGIRequestHandler``: the connection stays open for the client's next request, as
    AWS's endpoints keep it, instead of werkzeug's close after every response (a new connection and
    thread per SDK call). Only where the request's body is framed by its Content-Length: the body is read
    through a ``_RequestBody``, so werkzeug's drain after the response never reads the next request; a
    body left unread is read here up to ``KEEP_ALIVE_DRAIN_BYTES``, and a larger one closes the connection,
    as werkzeug does. Between requests an idle connection holds its thread and slot for at most
    ``KEEP_ALIVE_IDLE_S``, and none is served once its server has stopped."""

    _kept_alive = False  # this connection has served a request and waits for the next
    _keep_this = False  # the current request's connection may stay open

    def setup(self):
        super().setup()
        # werkzeug writes a response's head and body apart: without this the body waits for the client's
        # delayed acknowledgement of the head (~40 ms) on a connection that stays open.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self):
        self._keep_this = False  # until run_wsgi has read this request's headers
        if self._kept_alive:
            self.connection.settimeout(KEEP_ALIVE_IDLE_S)
            try:
                waiting = self.rfile.peek(1)
            except OSError:  # idle too long (a timeout) or reset: closed quietly, as AWS does
                waiting = b""
            if not waiting or self.server.stopped:
                self.close_connection = True
                return
            self.connection.settimeout(self.server.read_timeout_s)
        super().handle_one_request()
        self._kept_alive = not self.close_connection

    def run_wsgi(self):
        length = self.headers.get("Content-Length", "0").strip()
        self._keep_this = (
            self.request_version == "HTTP/1.1"
            and not self.close_connection
            and "Transfer-Encoding" not in self.headers
            and length.isdigit()
        )
        if not self._keep_this:
            return super().run_wsgi()
        raw, self.rfile = self.rfile, _RequestBody(self.rfile, int(length))
        body = self.rfile
        try:
            super().run_wsgi()
        finally:
            self.rfile = raw
        if not body.is_exhausted and not self.close_connection:  # read what is left of a small body
            try:
                self.connection.settimeout(self.server.read_timeout_s)
                body.read(KEEP_ALIVE_DRAIN_BYTES)
            except OSError:
                pass
            self.close_connection = not body.is_exhausted

    def send_header(self, keyword, value):
        if self._keep_this and keyword.lower() == "connection" and value.lower() == "close":
            return  # werkzeug's own close, for every response
        super().send_header(keyword, value)


class BoundedWSGIServer(BoundedThreadingMixIn, BaseWSGIServer):
    """werkzeug's threaded server (what ``make_server(threaded=True)`` builds), bounded as above; a HEAD
    request gets no body (no_body_for_head)."""

    multithread = True

    def __init__(self, host: str, port: int, app, handler, max_connections: int, fd: int | None = None):
        self.max_connections = max_connections
        super().__init__(host, port, no_body_for_head(app), handler, fd=fd)
