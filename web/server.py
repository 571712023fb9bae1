"""Serve the page in a background thread: ``WebServer(app, host, port).start()`` ... ``.stop()``.

Bound to 127.0.0.1 by default: the page can upload into the sandbox and change the function, so it is
for this machine only unless ``--host`` says otherwise (``serve()`` then prints a warning).
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
import webbrowser

from werkzeug.serving import WSGIRequestHandler

from sandbox.errors import SandboxError
from sandbox.http_server import BoundedWSGIServer, WriteTimeoutMixIn

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}
# Connections served at once (each holds a thread; an open page keeps one for its change feed); a slow
# client is dropped after sandbox.http_server.READ_TIMEOUT_S of silence.
MAX_CONNECTIONS = 128


class QuietRequestHandler(WriteTimeoutMixIn, WSGIRequestHandler):
    """One access-log line per thumbnail and per page of a list would bury the sandbox's own output.
    Errors are still logged."""

    def log_request(self, code="-", size="-"):
        pass


class WebServer:
    def __init__(self, app, host: str = "127.0.0.1", port: int = 8000):
        self.app = app
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            # As werkzeug does: lets a restarted sandbox bind while old connections linger in TIME_WAIT
            # (it never lets two servers listen on one port on Linux).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise SandboxError(self._bind_error(exc)) from None
        try:
            # werkzeug's server would print and sys.exit() on a busy port; binding ourselves and
            # handing it the socket keeps that failure a SandboxError with one sentence.
            self._server = BoundedWSGIServer(
                self.host,
                self.requested_port,
                self.app,
                QuietRequestHandler,
                max_connections=MAX_CONNECTIONS,
                fd=sock.fileno(),
            )
        finally:
            sock.close()  # make_server works on its own duplicate of the descriptor
        self.port = self._server.server_address[1]
        self.app.config["WEB_PORT"] = self.port
        allowed = self.app.config.setdefault("ALLOWED_HOSTS", [])
        for name in self._extra_host_names():
            if name not in allowed:
                allowed.append(name)
        self._thread = threading.Thread(target=self._server.serve_forever, name="web-page", daemon=True)
        self._thread.start()
        return self

    def _bind_error(self, exc: OSError) -> str:
        if exc.errno == errno.EADDRINUSE:
            return (
                f"Port {self.requested_port} is already in use, so the page cannot start there; choose "
                f"another with --web-port (0 picks a free one)."
            )
        if exc.errno == errno.EACCES:
            return (
                f"Not allowed to listen on port {self.requested_port}; choose a port above 1023 with "
                f"--web-port."
            )
        if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
            return f"This machine has no address {self.host!r} to serve the page on; check --host."
        return (
            f"Cannot serve the page on {self.host}:{self.requested_port} ({exc.strerror or exc}); "
            f"check --host and --web-port."
        )

    def _extra_host_names(self) -> list[str]:
        """Host names besides the loopback ones that may appear in the Host header."""
        if self.host in LOOPBACK_HOSTS:
            return []
        if self.host not in WILDCARD_HOSTS:
            return [self.host]
        names = {socket.gethostname(), socket.getfqdn()}
        try:
            names.update(socket.gethostbyname_ex(socket.gethostname())[2])
        except OSError:
            pass
        return sorted(n for n in names if n)

    @property
    def url(self) -> str:
        host = self.host
        if host in WILDCARD_HOSTS:
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        port = self.port if self.port is not None else self.requested_port
        return f"http://{host}:{port}/"

    def stop(self) -> None:
        # Open change-feed streams (one per open page) would keep their threads waiting: end them first.
        from web.views.feed import gate

        gate(self.app).close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(
    sandbox,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_upload_mb: float = 25,
    open_browser: bool = False,
    config: dict | None = None,
    warn=None,
) -> WebServer:
    """What ``run_local.py`` does for ``--host/--web-port/--max-upload-mb/--open``: build the app, start the
    server, warn when the page is reachable from other machines, optionally open the browser."""
    from web.app import create_app

    if max_upload_mb is None or not max_upload_mb > 0:
        raise SandboxError(f"--max-upload-mb must be a positive number of megabytes; got {max_upload_mb!r}.")
    app = create_app(sandbox, {"MAX_UPLOAD_BYTES": int(max_upload_mb * 1024 * 1024), **(config or {})})
    server = WebServer(app, host=host, port=port).start()
    sandbox.access.allow_page(server.url)  # the page's own origin may use the endpoint
    if host not in LOOPBACK_HOSTS:
        message = (
            f"warning: the page listens on {host}, so other machines on the network can reach it and "
            f"upload files and change the function; use --host 127.0.0.1 unless you mean that."
        )
        (warn or (lambda text: print(text, file=sys.stderr)))(message)
    if open_browser:
        webbrowser.open(server.url)
    return server
