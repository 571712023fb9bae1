"""Connections to the endpoint stay open between requests (http_server.KeepAliveMixIn), over real sockets
to a BoundedWSGIServer with a small WSGI app: the next request on a connection is answered whole, a body
the app left unread is drained and never mistaken for the next request, and an idle connection is
closed after KEEP_ALIVE_IDLE_S."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from werkzeug.serving import WSGIRequestHandler

from helpers.waiting import eventually
from sandbox import http_server
from sandbox.http_server import BoundedWSGIServer, KeepAliveMixIn, WriteTimeoutMixIn


class Handler(KeepAliveMixIn, WriteTimeoutMixIn, WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs):
        pass


def app(environ, start_response):
    """Answers with the request's path and the client's port; reads the body only under /read."""
    body = environ["wsgi.input"].read() if environ["PATH_INFO"] == "/read" else b""
    answer = f"{environ['PATH_INFO']} {environ['REMOTE_PORT']} {len(body)}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]


@pytest.fixture
def server():
    server = BoundedWSGIServer("127.0.0.1", 0, app, Handler, max_connections=8)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def request(path: str, body: bytes = b"", extra: str = "") -> bytes:
    method = "PUT" if body else "GET"
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def answers(sock: socket.socket, count: int) -> list[tuple[dict, bytes]]:
    """``count`` responses read from ``sock``: (headers, body) each, framed by Content-Length."""
    stream = sock.makefile("rb")
    found = []
    for _ in range(count):
        status = stream.readline()
        assert status.startswith(b"HTTP/1.1 200"), status
        headers = {}
        while (line := stream.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            headers[name.lower()] = value.strip()
        found.append((headers, stream.read(int(headers["content-length"]))))
    return found


def test_a_connection_serves_one_request_after_another(server):
    with socket.create_connection(server.server_address[:2], timeout=5) as sock:
        sock.sendall(request("/first"))
        [(headers, first)] = answers(sock, 1)
        sock.sendall(request("/second"))
        [(_, second)] = answers(sock, 1)
    assert headers.get("connection", "").lower() != "close"
    assert first.split()[1] == second.split()[1]  # the same client port: the same connection


def test_a_body_the_app_left_unread_is_not_taken_for_the_next_request(server):
    with socket.create_connection(server.server_address[:2], timeout=5) as sock:
        # pipelined: the next request follows the unread body in the same write
        sock.sendall(request("/ignore", b"GET /evil HTTP/1.1\r\n\r\n") + request("/read", b"abc"))
        found = [body for _, body in answers(sock, 2)]
    assert [b.split()[0] for b in found] == [b"/ignore", b"/read"]
    assert found[1].split()[2] == b"3"


def test_a_client_that_says_close_is_closed(server):
    with socket.create_connection(server.server_address[:2], timeout=5) as sock:
        sock.sendall(request("/once", extra="Connection: close\r\n"))
        [(headers, _)] = answers(sock, 1)
        assert headers["connection"].lower() == "close"
        assert sock.recv(1) == b""


def test_an_idle_connection_is_closed_after_the_idle_limit(server, monkeypatch):
    monkeypatch.setattr(http_server, "KEEP_ALIVE_IDLE_S", 0.3)
    with socket.create_connection(server.server_address[:2], timeout=5) as sock:
        sock.sendall(request("/first"))
        answers(sock, 1)
        started = time.monotonic()
        assert sock.recv(1) == b""
        assert 0.2 < time.monotonic() - started < 3


def test_a_stopped_server_answers_nothing_more_on_an_open_connection():
    server = BoundedWSGIServer("127.0.0.1", 0, app, Handler, max_connections=8)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.create_connection(server.server_address[:2], timeout=5) as sock:
        sock.sendall(request("/first"))
        answers(sock, 1)
        server.shutdown()
        server.server_close()
        sock.sendall(request("/after"))
        assert sock.recv(1) == b""


def test_a_client_that_leaves_before_the_end_of_an_unread_body_is_closed_quietly():
    errors = []

    class Recording(BoundedWSGIServer):
        def handle_error(self, request, client_address):
            errors.append(client_address)

        def log(self, type, message, *args):  # werkzeug's "Error on request" and its traceback
            errors.append(message % args if args else message)

    server = Recording("127.0.0.1", 0, app, Handler, max_connections=8)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with socket.create_connection(server.server_address[:2], timeout=5) as sock:
            sock.sendall(request("/ignore", b"x" * 100)[:-90])  # 10 of its 100 bytes, then gone
            [(headers, _)] = answers(sock, 1)
        with socket.create_connection(server.server_address[:2], timeout=5) as sock:
            sock.sendall(request("/after"))
            assert answers(sock, 1)[0][1].startswith(b"/after")
        eventually(lambda: server.serving, lambda n: n == 0, what="every connection's thread done")
    finally:
        server.shutdown()
        server.server_close()
    assert errors == []
