"""A HEAD request gets a response without a body from the sandbox's servers (http_server.BoundedWSGIServer,
which the endpoint and the page use), over a real socket, even from an app that answers every method with
the same body (the access guard's refusals do)."""

from __future__ import annotations

import socket
import threading

import pytest
from werkzeug.serving import WSGIRequestHandler

from sandbox.http_server import BoundedWSGIServer

REFUSAL = b'{"message": "refused"}'


class Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs):
        pass


def refusing(environ, start_response):
    start_response(
        "403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(REFUSAL)))]
    )
    return [REFUSAL]


def refusing_lazily(environ, start_response):
    """A generator: it calls start_response only when read."""
    start_response(
        "403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(REFUSAL)))]
    )
    yield REFUSAL


@pytest.fixture(params=[refusing, refusing_lazily], ids=["list", "generator"])
def server(request):
    server = BoundedWSGIServer("127.0.0.1", 0, request.param, Handler, max_connections=4)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def exchange(server, method: str) -> bytes:
    """Everything the server sends for one request, until it closes the connection."""
    with socket.create_connection(server.server_address[:2], timeout=5) as sock:
        sock.sendall(f"{method} /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while piece := sock.recv(65536):
            received += piece
    return received


def test_a_head_response_ends_with_its_headers_which_keep_the_bodys_length(server):
    head, _, rest = exchange(server, "HEAD").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert f"Content-Length: {len(REFUSAL)}".encode() in head
    assert rest == b""


def test_a_get_response_still_carries_its_body(server):
    assert exchange(server, "GET").endswith(b"\r\n\r\n" + REFUSAL)
