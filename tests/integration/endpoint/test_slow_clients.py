"""Slow clients cannot exhaust the sandbox's servers: requests that stall are dropped after a read
timeout, at most a bounded number of connections are served at once (the one over the bound gets a clear
503), and meanwhile a normal upload is served and its S3 event resized at once."""

import io
import selectors
import socket
import threading
import time

import pytest
from PIL import Image

from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually

SOURCE, DEST = "source-image-bucket123", "resized-image-bucket123"
HELD = 100
pytestmark = pytest.mark.serial  # answers within a wall-clock bound while 100 requests are held: run alone


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


def _image() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def _partial_requests(port: int, count: int) -> list[socket.socket]:
    """Half declare a 100 MB body and send 10 bytes of it; half stop in the middle of their headers."""
    held = []
    for n in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if n % 2:
            sock.sendall(
                f"PUT /{SOURCE}/slow-{n}.jpg HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Length: {100 * 1024 * 1024}\r\n\r\n0123456789".encode()
            )
        else:
            sock.sendall(f"GET /{SOURCE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode())
        held.append(sock)
    return held


def _closed_by_server(socks: list[socket.socket]) -> list[socket.socket]:
    """Those of ``socks`` the server has closed (read all at once: a socket the server still holds has
    nothing to read)."""
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        readable = [key.fileobj for key, _ in selector.select(timeout=0.05)]
    closed = []
    for sock in readable:
        sock.settimeout(0.05)
        try:
            if sock.recv(65536) == b"":
                closed.append(sock)
        except TimeoutError:
            pass
        except OSError:  # reset: closed too
            closed.append(sock)
    return closed


def _upload_and_resize(sb, key: str) -> tuple[float, float]:
    """Seconds until put_object answered, and until the resized copy exists."""
    started = time.perf_counter()
    sb.s3.put_object(Bucket=SOURCE, Key=key, Body=_image(), ContentType="image/jpeg")
    uploaded = time.perf_counter() - started
    record = sb.wait_for_key(key, timeout=30)
    assert record is not None and record.status == "success", record and record.result
    sb.s3.head_object(Bucket=DEST, Key=f"resized-{key}")
    return uploaded, time.perf_counter() - started


@pytest.mark.slow
def test_a_normal_upload_is_served_at_once_while_100_slow_requests_are_held_open(sb):
    _upload_and_resize(sb, "warm-up.jpg")  # the function's environment is warm, as in a session
    held = _partial_requests(sb.endpoint.port, HELD)
    try:
        # Each held request has its own server thread, waiting on its client (counted by the server itself:
        # the process's thread count also moves with other tests' threads winding down).
        eventually(
            lambda: sb.endpoint._server.serving,
            lambda n: n >= HELD,
            what=f"{HELD} server threads waiting on the slow requests",
        )
        uploaded, resized = _upload_and_resize(sb, "while-held.jpg")
        print(
            f"\n{HELD} slow requests held open: put_object answered in {uploaded * 1000:.0f} ms, "
            f"resized output in {resized * 1000:.0f} ms"
        )
        assert resized < 1.0  # an upper bound; a healthy run needs a fraction of it
        assert _closed_by_server(held) == []  # within the read timeout: still open
    finally:
        for sock in held:
            sock.close()


@pytest.mark.slow
def test_a_request_that_stalls_is_dropped_after_the_read_timeout(sb):
    server = sb.endpoint._server
    server.read_timeout_s = 1.0  # the sandbox's is 20 s, as S3's
    try:
        held = _partial_requests(sb.endpoint.port, 4)
        started = time.perf_counter()
        eventually(
            lambda: len(_closed_by_server(held)) == len(held),
            what="the stalled requests dropped",
            timeout=15,
        )
        print(f"\nstalled requests dropped after {time.perf_counter() - started:.1f} s (read timeout 1 s)")
    finally:
        del server.read_timeout_s
        for sock in held:
            sock.close()
    _upload_and_resize(sb, "after-timeouts.jpg")


def _hello(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))  # a slow body holds the thread
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


def test_a_connection_over_the_bound_gets_a_clear_503_and_the_server_keeps_serving():
    from werkzeug.serving import WSGIRequestHandler

    from sandbox.http_server import BoundedWSGIServer

    server = BoundedWSGIServer("127.0.0.1", 0, _hello, WSGIRequestHandler, max_connections=2)
    server.wait_for_slot_s = 0.1
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        held = _partial_requests(port, 2)
        answer = _get(port)
        assert answer.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 1" in answer, answer
        assert b"Too many open connections" in answer
        held.pop().close()
        assert b"hello" in eventually(
            lambda: _get(port), lambda a: a.startswith(b"HTTP/1.1 200 "), what="a free slot"
        )
        held.pop().close()
    finally:
        server.shutdown()
        server.server_close()


def test_the_page_server_serves_while_100_slow_requests_are_held_open(sb):
    from web.app import create_app
    from web.server import WebServer

    server = WebServer(create_app(sb), port=0).start()
    held = _partial_requests(server.port, HELD)
    try:
        started = time.perf_counter()
        answer = _get(server.port)
        elapsed = time.perf_counter() - started
        print(
            f"\n{HELD} slow requests held open on the page server: the page answered in "
            f"{elapsed * 1000:.0f} ms"
        )
        assert answer.startswith(b"HTTP/1.1 200 ") and elapsed < 1.0
    finally:
        for sock in held:
            sock.close()
        server.stop()
