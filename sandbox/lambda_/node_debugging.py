"""Step-through debugging of a Node.js function through Node's inspector (``run_local.py --debug FUNCTION``).

The worker opens Node's inspector on a private loopback port (``inspector.open(0, "127.0.0.1")``) and
says which in a marker. The editor attaches to the public port, where the sandbox answers the inspector's
HTTP discovery (``/json/list``, ``/json/version``) with one target per debugged function and relays its
WebSocket (the Chrome DevTools Protocol) to the current worker's inspector, frame by frame. Reading the
frames as they pass, the sandbox sees ``Debugger.paused`` and the requests that resume
(``Debugger.resume``, ``stepOver``...), so Lambda's clocks stop while the function is held, as for Python
(debugging.py). An editor that attaches before the worker exists has its first messages kept and sent
when it starts; a new worker (hot reload, a timeout) closes the editor's connection, and the editor
reconnects (VS Code's ``"restart": true``). Security: docs/debugging.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import threading
import time
import uuid
from urllib.parse import urlsplit

from sandbox.errors import ConfigError
from sandbox.host_names import is_loopback_name, split_host

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RUN = "Runtime.runIfWaitingForDebugger"
RESUMING = {
    "Debugger.resume",
    "Debugger.stepOver",
    "Debugger.stepInto",
    "Debugger.stepOut",
    "Debugger.restartFrame",
    RUN,
}
# With an editor attached (or just gone, reconnecting), a new worker waits this long for it to set its
# breakpoints before INIT; with --debug-wait it waits as long as it takes.
RECONNECT_WAIT_S = 10.0
# A worker says where its inspector listens just before it starts to wait (inspector.waitForDebugger()),
# and Node forgets a RUN that reaches it in between: until the worker says it runs, the sandbox says RUN
# again this often.
RUN_AGAIN_S = 0.5


# -- WebSocket framing (RFC 6455), enough to relay and read the DevTools protocol ----------------------
def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()


def read_frame(stream) -> tuple[bytes, int, bool, bytes] | None:
    """(the frame's bytes as received, opcode, FIN, unmasked payload), or None at the end."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    raw = bytearray(head)
    length = head[1] & 0x7F
    if length in (126, 127):
        extra = stream.read(2 if length == 126 else 8)
        raw += extra
        length = int.from_bytes(extra, "big")
    mask = stream.read(4) if head[1] & 0x80 else b""
    raw += mask
    payload = stream.read(length) if length else b""
    if len(payload) < length:
        return None
    raw += payload
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(raw), head[0] & 0x0F, bool(head[0] & 0x80), payload


def client_frame(text: str) -> bytes:
    """A masked text frame, as a client sends it."""
    data = text.encode()
    mask = os.urandom(4)
    length = len(data)
    if length < 126:
        head = struct.pack("!BB", 0x81, 0x80 | length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def connect(url: str, timeout: float = 10.0) -> socket.socket:
    """A client WebSocket connection to ``ws://host:port/path`` (the worker's inspector)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(1)
        if not chunk:
            raise OSError("the inspector closed the connection")
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 101"):
        sock.close()
        raise OSError(f"the inspector refused the connection: {answer.splitlines()[0]!r}")
    sock.settimeout(None)
    return sock


def _close(sock: socket.socket | None) -> None:
    if sock is None:
        return
    for closing in (lambda: sock.shutdown(socket.SHUT_RDWR), sock.close):
        try:
            closing()
        except OSError:
            pass


class _Relay:
    """One editor's WebSocket, relayed to the current worker's inspector."""

    def __init__(self, session: NodeDebugSession, editor: socket.socket):
        self.session = session
        self.editor = editor
        self.worker: socket.socket | None = None
        self.worker_url: str | None = None
        # the editor's frames (with their methods) before a worker runs
        self.pending: list[tuple[bytes, str | None]] = []
        self.closed = False
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._from_editor, name="cdp-editor", daemon=True).start()

    def attach(self, url: str) -> None:
        try:
            worker = connect(url)
        except OSError:  # that worker is gone already: wait for the next one
            self.session.worker_gone(url)
            return
        with self._lock:  # the kept frames go first, whole: the editor's thread sends under this lock too
            if self.closed:
                return _close(worker)
            try:
                for frame, _ in self.pending:
                    worker.sendall(frame)
            except OSError:
                _close(worker)
                return
            told_to_run = any(method == RUN for _, method in self.pending)
            self.worker, self.worker_url, self.pending = worker, url, []
        if told_to_run:
            self.session._run_requested(url)
        threading.Thread(target=self._from_worker, args=(worker,), name="cdp-worker", daemon=True).start()

    def _from_editor(self) -> None:
        stream = self.editor.makefile("rb")
        try:
            while (frame := read_frame(stream)) is not None:
                raw, opcode, _, payload = frame
                if opcode == 8:  # close
                    break
                method = _method(payload) if opcode == 1 else None
                if method in RESUMING:
                    self.session._resumed()  # before the worker hears it: the handler sees the new deadline
                with self._lock:
                    if self.worker is None:
                        self.pending.append((raw, method))
                        continue
                    self.worker.sendall(raw)
                    url = self.worker_url
                if method == RUN:
                    self.session._run_requested(url)
        except OSError:
            pass
        self.close()

    def _from_worker(self, worker: socket.socket) -> None:
        stream = worker.makefile("rb")
        message = b""
        try:
            while (frame := read_frame(stream)) is not None:
                raw, opcode, fin, payload = frame
                if opcode in (1, 0):
                    message += payload
                    if fin:
                        method = _method(message)
                        if method == "Debugger.paused":
                            self.session._stopped()
                        elif method == "Debugger.resumed":
                            self.session._resumed()
                        message = b""
                self.editor.sendall(raw)
        except OSError:
            pass
        self.close()

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            worker, self.worker, self.worker_url = self.worker, None, None
        _close(worker)
        _close(self.editor)
        self.session._relay_closed(self)


def _method(payload: bytes) -> str | None:
    head = payload[:80]
    if b'"method"' not in head:
        return None
    try:
        return json.loads(payload).get("method")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None


class NodeDebugSession:
    """The editor's side of one debugged Node.js function: the inspector's discovery and a relay to its
    current worker on ``target.port``, and the record of when the debugger held it. The same interface
    as debugging.DebugSession, which the execution environment uses."""

    def __init__(self, target, host: str = "127.0.0.1"):
        self.target = target
        self.host = host
        self.port: int | None = None
        self.id = str(uuid.uuid4())  # the target id (the WebSocket's path): unguessable, as Node's own
        self._lock = threading.RLock()
        self._server: socket.socket | None = None
        self._relays: set[_Relay] = set()
        self._worker_url: str | None = None
        self._waiting: tuple[str, str] | None = None  # (url, mode) of a worker not yet told to run
        self._last_editor_at = 0.0
        self._configured = threading.Event()  # an editor is connected
        self._held_since: float | None = None
        self._held_total = 0.0
        self.on_resume = None

    @property
    def function_name(self) -> str:
        return self.target.function_name

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> NodeDebugSession:
        if self._server is not None:
            return self
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind((self.host, self.target.port))
        except OSError as exc:
            server.close()
            raise ConfigError(
                f"--debug {self.function_name}: port {self.target.port} is taken ({exc.strerror}); "
                f"choose another with --debug {self.function_name}:PORT."
            ) from None
        server.listen(8)
        self._server, self.port = server, server.getsockname()[1]
        threading.Thread(target=self._accept, name=f"inspector-{self.function_name}", daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for relay in list(self._relays):
            relay.close()
        self._resumed()

    # -- held time (as debugging.DebugSession) -----------------------------------------------------------
    def held_seconds(self) -> float:
        with self._lock:
            since = self._held_since
            return self._held_total + (time.monotonic() - since if since is not None else 0.0)

    @property
    def held(self) -> bool:
        return self._held_since is not None

    def _stopped(self) -> None:
        with self._lock:
            if self._held_since is None:
                self._held_since = time.monotonic()

    def _resumed(self) -> None:
        with self._lock:
            if self._held_since is None:
                return
            self._held_total += time.monotonic() - self._held_since
            self._held_since = None
            callback = self.on_resume
        if callback is not None:
            callback()

    def wait_for_editor(self, timeout: float | None = None) -> bool:
        return self._configured.wait(timeout)

    def describe(self) -> dict:
        return {
            "function": self.function_name,
            "port": self.port,
            "wait": self.target.wait,
            "editor_attached": self._configured.is_set(),
            "held": self.held,
            "worker_attached": self._worker_url is not None,
            "protocol": "inspector",
            "webSocketDebuggerUrl": self._ws_url(),
        }

    # -- the worker's side ---------------------------------------------------------------------------------
    def worker_mode(self) -> str:
        """How a new worker starts: ``wait`` (for the editor, as long as it takes: --debug-wait),
        ``reconnect`` (an editor is attached or just left: it waits a little for it) or ``run``."""
        if self.target.wait:
            return "wait"
        recent = time.monotonic() - self._last_editor_at < RECONNECT_WAIT_S
        return "reconnect" if self._relays or recent else "run"

    def attach_worker(self, url: str, mode: str = "run") -> None:
        """A new worker's inspector listens at ``url``: editors already connected to an older worker are
        closed (they reconnect), those waiting for a worker are relayed to it."""
        with self._lock:
            self._worker_url = url
            self._waiting = (url, mode) if mode in ("wait", "reconnect") else None
            relays = list(self._relays)
        self._resumed()  # whatever held the old worker is gone with it
        for relay in relays:
            if relay.worker is not None:
                relay.close()
            else:
                relay.attach(url)
        if mode == "reconnect":
            self._run_later_unless_an_editor_comes(url)

    def worker_running(self, url: str) -> None:
        """The worker at ``url`` has stopped waiting for the editor (its inspector-ready marker)."""
        with self._lock:
            if self._waiting is not None and self._waiting[0] == url:
                self._waiting = None

    def _still_waiting(self, url: str) -> bool:
        with self._lock:
            return self._waiting is not None and self._waiting[0] == url and self._server is not None

    def _run_later_unless_an_editor_comes(self, url: str) -> None:
        timer = threading.Timer(RECONNECT_WAIT_S, self._run_if_no_editor, args=(url,))
        timer.daemon = True
        timer.start()

    def _run_if_no_editor(self, url: str) -> None:
        """No editor came back for the new worker: it runs on (its inspector takes the command). An editor
        attached to it runs it itself, or re-arms this when it leaves (_relay_closed)."""
        if self._still_waiting(url) and not any(r.worker_url == url for r in list(self._relays)):
            if self._send_run(url):
                self._run_requested(url)

    def _run_requested(self, url: str) -> None:
        """RUN reached the worker at ``url``: every RUN_AGAIN_S, until the worker says it runs or is gone,
        say it again from the sandbox's own inspector session."""
        if not self._still_waiting(url):  # an editor's RUN to a worker that runs already
            return

        def run_again() -> None:
            while True:
                time.sleep(RUN_AGAIN_S)
                if not (self._still_waiting(url) and self._send_run(url)):
                    return

        threading.Thread(target=run_again, name=f"inspector-run-{self.function_name}", daemon=True).start()

    @staticmethod
    def _send_run(url: str) -> bool:
        """RUN to the worker's inspector in a session of its own; False when the worker is gone."""
        try:
            sock = connect(url, timeout=5)
        except OSError:
            return False
        try:
            sock.sendall(client_frame(json.dumps({"id": 1, "method": RUN})))
            sock.settimeout(5)
            sock.recv(4096)  # its answer: the command was taken
        except OSError:
            pass
        _close(sock)
        return True

    def worker_gone(self, url: str) -> None:
        with self._lock:
            if self._worker_url == url:
                self._worker_url = None
        self._resumed()

    def _relay_closed(self, relay: _Relay) -> None:
        with self._lock:
            self._relays.discard(relay)
            self._last_editor_at = time.monotonic()
            if not self._relays:
                self._configured.clear()
            left_waiting = not self._relays and self._waiting is not None and self._waiting[1] == "reconnect"
            waiting_url = self._waiting[0] if left_waiting else None
        self._resumed()  # Node lets the function run on when its debugger leaves
        if waiting_url is not None:  # the editor left a worker it had not run: it may come back, or not
            self._run_later_unless_an_editor_comes(waiting_url)

    # -- the editor's side: the inspector's HTTP discovery and WebSocket ----------------------------------
    def _ws_url(self) -> str | None:
        return f"ws://127.0.0.1:{self.port}/{self.id}" if self.port else None

    def _targets(self) -> list[dict]:
        address = f"127.0.0.1:{self.port}/{self.id}"
        return [
            {
                "description": "node.js instance (lambda sandbox)",
                "devtoolsFrontendUrl": f"devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws={address}",
                "devtoolsFrontendUrlCompat": f"devtools://devtools/bundled/inspector.html?experiments=true&v8only=true&ws={address}",
                "faviconUrl": "https://nodejs.org/static/images/favicons/favicon.ico",
                "id": self.id,
                "title": f"{self.function_name} (run_local.py --debug)",
                "type": "node",
                "url": f"lambda://{self.function_name}",
                "webSocketDebuggerUrl": f"ws://{address}",
            }
        ]

    def _accept(self) -> None:
        while self._server is not None:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    return _close(sock)
                head += chunk
        except OSError:
            return _close(sock)
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        path = rest.rpartition(" ")[0] or rest
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        refusal = self._refusal(headers)
        if refusal:
            return self._answer(sock, "403 Forbidden", "text/plain", refusal.encode())
        if headers.get("upgrade", "").lower() == "websocket":
            if path != f"/{self.id}" or "sec-websocket-key" not in headers:
                return self._answer(sock, "404 Not Found", "text/plain", b"No such debug target.")
            sock.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Accept: {accept_key(headers['sec-websocket-key'])}\r\n\r\n"
                ).encode()
            )
            sock.settimeout(None)
            return self._editor_connected(sock)
        if method == "GET" and path.rstrip("/") in ("/json", "/json/list"):
            return self._answer(sock, "200 OK", "application/json", json.dumps(self._targets()).encode())
        if method == "GET" and path.rstrip("/") == "/json/version":
            version = {
                "Browser": f"node.js (lambda sandbox, {self.function_name})",
                "Protocol-Version": "1.1",
            }
            return self._answer(sock, "200 OK", "application/json", json.dumps(version).encode())
        self._answer(sock, "404 Not Found", "text/plain", b"Unknown path.")

    @staticmethod
    def _refusal(headers: dict) -> str | None:
        """As Node's inspector: a Host that is not a loopback name or address is refused (DNS rebinding);
        besides, a WebSocket opened by a web page (an http(s) Origin) is refused."""
        name, _ = split_host(headers.get("host") or "127.0.0.1")
        if not is_loopback_name(name):
            return "The debugger answers only at 127.0.0.1, localhost or [::1]."
        origin = headers.get("origin", "")
        if origin.startswith(("http://", "https://")):
            return "The debugger does not take connections from web pages."
        return None

    @staticmethod
    def _answer(sock: socket.socket, status: str, content_type: str, body: bytes) -> None:
        try:
            sock.sendall(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + body
            )
        except OSError:
            pass
        _close(sock)

    def _editor_connected(self, sock: socket.socket) -> None:
        relay = _Relay(self, sock)
        with self._lock:
            self._relays.add(relay)
            self._last_editor_at = time.monotonic()
            url = self._worker_url
        self._configured.set()
        relay.start()
        if url is not None:
            relay.attach(url)
