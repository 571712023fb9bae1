"""Step-through debugging of a function (``run_local.py --debug FUNCTION[:PORT]``), Lambda's clocks paused.

The function's execution environments run under debugpy (its in-process adapter, pydevd, on a private
port of the worker), one environment at a time. The editor attaches to the public port, where a small
Debug Adapter Protocol proxy sits between it and the current worker. The proxy watches ``stopped`` and
``continued`` events and the requests that resume (continue, next, step...), so it knows exactly when
the process is held; the environment pauses the function's deadline meanwhile and Duration excludes it.
AWS has no such mode; LocalStack's debug mode instead extends the timeout for the whole session. When the
environment is replaced (hot reload, timeout, crash) the proxy attaches to the new worker and replays the
editor's breakpoints, so the editor stays connected.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox.errors import ConfigError

DEFAULT_PORT = 5678
# Requests after which the debuggee runs again (DAP): the held time ends when one is sent.
RESUMING = {"continue", "next", "stepIn", "stepOut", "stepBack", "reverseContinue", "goto", "restartFrame"}
BREAKPOINTS = {"setBreakpoints", "setFunctionBreakpoints", "setExceptionBreakpoints"}
_OWN_SEQ = 1_000_000  # requests the proxy makes itself are numbered from here; their responses stay here
FALLBACK_CAPABILITIES = {
    "supportsConfigurationDoneRequest": True,
    "supportsConditionalBreakpoints": True,
    "supportsHitConditionalBreakpoints": True,
    "supportsEvaluateForHovers": True,
    "supportsSetVariable": True,
    "supportsLogPoints": True,
}


@dataclass(frozen=True)
class DebugTarget:
    """One ``--debug FUNCTION[:PORT]``: which function, the editor's port, whether to wait for it."""

    function_name: str
    port: int = DEFAULT_PORT
    wait: bool = False


def parse_target(text: str, wait: bool = False) -> DebugTarget:
    name, sep, port = text.partition(":")
    if not name or (sep and not port.isdigit()) or (port and not 0 <= int(port) <= 65535):
        raise ConfigError(f"--debug takes FUNCTION or FUNCTION:PORT (a port from 0 to 65535); got {text!r}.")
    return DebugTarget(name, int(port) if port else DEFAULT_PORT, wait)


def debugpy_folder() -> str:
    """The folder holding debugpy (the sandbox's site-packages): the worker imports it from there and
    takes the folder off ``sys.path`` again, so the function's own imports are unchanged."""
    import importlib.util

    spec = importlib.util.find_spec("debugpy")
    if spec is None or spec.origin is None:
        raise ConfigError(
            "--debug needs debugpy next to the sandbox: pip install debugpy (make run installs it)."
        )
    return str(Path(spec.origin).resolve().parent.parent)


def refusal(function, bootstrap_command) -> str | None:
    """Why this function cannot be debugged here (one sentence), or None."""
    from sandbox.lambda_ import runtimes

    if runtimes.is_node(function.runtime):
        if os.environ.get("SANDBOX_NODE_RUNTIME_CLIENT"):
            return (
                f"--debug {function.function_name}: a Node.js function is debugged with the sandbox's own "
                f"Node runtime client, not SANDBOX_NODE_RUNTIME_CLIENT."
            )
        return None
    if bootstrap_command is not None or not str(function.runtime).startswith("python"):
        return (
            f"--debug {function.function_name}: only functions run by this machine's Python or Node.js "
            f"with the sandbox's runtime clients can be debugged (not {function.runtime} or awslambdaric)."
        )
    return None


def _read_message(stream) -> dict | None:
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode("ascii", "replace").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length is None:
        return None
    body = stream.read(length)
    return json.loads(body) if len(body) == length else None


class _Peer:
    """One DAP connection: framed JSON messages, written under a lock."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.stream = sock.makefile("rb")
        self._lock = threading.Lock()

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        with self._lock:
            self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def read(self) -> dict | None:
        try:
            return _read_message(self.stream)
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        # shutdown first: it wakes a thread reading the stream, which holds the stream's lock close() needs
        for closing in (lambda: self.sock.shutdown(socket.SHUT_RDWR), self.sock.close, self.stream.close):
            try:
                closing()
            except OSError:
                pass


class DebugSession:
    """The editor's side of one debugged function: a DAP proxy on ``target.port`` to its current worker,
    and the record of when the debugger held it."""

    def __init__(self, target: DebugTarget, host: str = "127.0.0.1"):
        self.target = target
        self.host = host
        self.port: int | None = None
        self._lock = threading.RLock()
        self._server: socket.socket | None = None
        self._editor: _Peer | None = None
        self._worker: _Peer | None = None
        self._capabilities: dict | None = None
        self._initialize_args: dict | None = None
        self._attach_args: dict = {}
        self._breakpoints: dict[str, tuple[str, dict]] = {}  # the editor's latest, per source: replayed
        self._unverified: dict[str, list[int]] = {}  # ids the proxy gave while no worker ran, per source
        self._configured = threading.Event()  # an editor is attached and has sent configurationDone
        self._seq = _OWN_SEQ
        self._waiting: dict[int, list] = {}
        self._held_since: float | None = None
        self._held_total = 0.0
        self._stopped_thread: int | None = None
        self.on_resume = None  # called when the debugger lets the function run again (InvocationClock)

    @property
    def function_name(self) -> str:
        return self.target.function_name

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> DebugSession:
        if self._server is not None:
            return self
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind((self.host, self.target.port))
        except OSError as exc:
            server.close()
            raise ConfigError(
                f"--debug {self.function_name}: port {self.target.port} is taken "
                f"({exc.strerror}); choose another with --debug "
                f"{self.function_name}:PORT."
            ) from None
        server.listen(4)
        self._server, self.port = server, server.getsockname()[1]
        threading.Thread(target=self._accept, name=f"debug-{self.function_name}", daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for peer in (self._editor, self._worker):
            if peer is not None:
                peer.close()
        self._resumed()

    def _accept(self) -> None:
        while self._server is not None:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            editor = _Peer(sock)
            with self._lock:
                old, self._editor = self._editor, editor
            if old is not None:  # a newer editor takes over (an editor restarted without disconnecting)
                self._editor_gone(old)
                old.close()
            threading.Thread(target=self._read_editor, args=(editor,), daemon=True).start()

    # -- held time ---------------------------------------------------------------------------------------
    def held_seconds(self) -> float:
        """Seconds the debugger has held the function so far (all invocations, up to now)."""
        with self._lock:
            since = self._held_since
            return self._held_total + (time.monotonic() - since if since is not None else 0.0)

    @property
    def held(self) -> bool:
        return self._held_since is not None

    def _stopped(self, thread_id) -> None:
        with self._lock:
            self._stopped_thread = thread_id
            if self._held_since is None:
                self._held_since = time.monotonic()

    def _resumed(self) -> None:
        with self._lock:
            if self._held_since is None:
                return
            self._held_total += time.monotonic() - self._held_since
            self._held_since = None
            callback = self.on_resume
        if callback is not None:  # before the worker hears of it: the handler sees the new deadline
            callback()

    def wait_for_editor(self, timeout: float | None = None) -> bool:
        """Until an editor has attached and finished its configuration (``--debug-wait``)."""
        return self._configured.wait(timeout)

    def describe(self) -> dict:
        return {
            "function": self.function_name,
            "port": self.port,
            "wait": self.target.wait,
            "editor_attached": self._configured.is_set(),
            "held": self.held,
            "worker_attached": self._worker is not None,
        }

    # -- the editor's side ---------------------------------------------------------------------------------
    def _read_editor(self, editor: _Peer) -> None:
        while (message := editor.read()) is not None:
            if message.get("type") == "request":
                self._from_editor(editor, message)
        self._editor_gone(editor)
        editor.close()

    def _from_editor(self, editor: _Peer, request: dict) -> None:
        command, arguments = request.get("command"), request.get("arguments") or {}
        if command == "initialize":
            self._initialize_args = arguments
            return self._reply(editor, request, self._capabilities or FALLBACK_CAPABILITIES)
        if command in ("attach", "launch"):
            self._attach_args = {k: v for k, v in arguments.items() if k not in ("connect", "listen")}
            self._reply(editor, request)
            worker = self._worker
            if worker is not None:
                self._call(worker, "attach", self._attach_args, wait=False)
            return editor.send({"seq": 0, "type": "event", "event": "initialized"})
        if command == "configurationDone":
            self._reply(editor, request)
            return self._configured.set()
        if command in ("disconnect", "terminate"):  # the worker lives on; only this editor leaves
            self._reply(editor, request)
            return self._editor_gone(editor)
        if command in BREAKPOINTS:
            source = (arguments.get("source") or {}).get("path") or ""
            self._breakpoints[f"{command}:{source}"] = (command, arguments)
            self._unverified.pop(f"{command}:{source}", None)
        if command in RESUMING:
            self._resumed()
        worker = self._worker
        if worker is not None:
            try:
                return worker.send(request)
            except OSError:
                pass
        self._answer_without_worker(editor, request, command, arguments)

    def _answer_without_worker(self, editor: _Peer, request: dict, command: str, arguments: dict) -> None:
        if command in ("setBreakpoints", "setFunctionBreakpoints"):
            wanted = arguments.get("breakpoints") or []
            source = (arguments.get("source") or {}).get("path") or ""
            ids = self._unverified[f"{command}:{source}"] = [self._next_seq() for _ in wanted]
            return self._reply(
                editor,
                request,
                {
                    "breakpoints": [  # verified by an event once a worker runs
                        {
                            "id": id_,
                            "verified": False,
                            "line": b.get("line"),
                            "message": "set when the next execution environment starts",
                        }
                        for id_, b in zip(ids, wanted)
                    ]
                },
            )
        if command == "setExceptionBreakpoints":
            return self._reply(editor, request, {})
        if command == "threads":
            return self._reply(editor, request, {"threads": []})
        self._reply(
            editor,
            request,
            success=False,
            message=f"No execution environment of {self.function_name} is running; invoke it.",
        )

    def _editor_gone(self, editor: _Peer) -> None:
        """The editor left: its breakpoints are cleared in the worker and the function runs on."""
        with self._lock:
            if self._editor is not editor:
                return
            self._editor = None
            self._configured.clear()
            breakpoints, self._breakpoints = self._breakpoints, {}
        worker = self._worker
        if worker is None:
            return self._resumed()
        for command, arguments in breakpoints.values():
            exceptions = command == "setExceptionBreakpoints"
            cleared = {"filters": []} if exceptions else {**arguments, "breakpoints": []}
            self._call(worker, command, cleared, wait=False)
        if self.held:
            self._continue(worker)

    def _reply(
        self,
        editor: _Peer,
        request: dict,
        body: dict | None = None,
        success: bool = True,
        message: str | None = None,
    ) -> None:
        response = {
            "seq": 0,
            "type": "response",
            "request_seq": request.get("seq"),
            "success": success,
            "command": request.get("command"),
            "body": body or {},
        }
        if message:
            response["message"] = message
        try:
            editor.send(response)
        except OSError:
            pass

    # -- the worker's side -----------------------------------------------------------------------------------
    def attach_worker(self, port: int, timeout: float = 10.0, before_run=lambda: None) -> None:
        """Connect to a new worker's debugger and give it the editor's configuration and breakpoints,
        before the worker gets an event; ``before_run`` is called just before it may run on."""
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        sock.settimeout(None)
        worker = _Peer(sock)
        with self._lock:
            old, self._worker = self._worker, worker
        if old is not None:
            old.close()
        self._resumed()  # whatever held the old worker is gone with it
        threading.Thread(target=self._read_worker, args=(worker,), daemon=True).start()
        response = self._call(
            worker,
            "initialize",
            self._initialize_args
            or {
                "clientID": "lambda-sandbox",
                "adapterID": "debugpy",
                "pathFormat": "path",
                "linesStartAt1": True,
                "columnsStartAt1": True,
            },
            timeout=timeout,
        )
        if response and response.get("success"):
            self._capabilities = response.get("body") or self._capabilities
        self._call(worker, "attach", self._attach_args, timeout=timeout)
        for key, (command, arguments) in list(self._breakpoints.items()):
            response = self._call(worker, command, arguments, timeout=timeout) or {}
            set_ = (response.get("body") or {}).get("breakpoints") or []
            for id_, breakpoint in zip(self._unverified.pop(key, ()), set_):  # the editor's ids, now verified
                self._to_editor(
                    {
                        "seq": 0,
                        "type": "event",
                        "event": "breakpoint",
                        "body": {"reason": "changed", "breakpoint": {**breakpoint, "id": id_}},
                    }
                )
        before_run()
        self._call(worker, "configurationDone", {}, timeout=timeout)
        self._to_editor(
            {
                "seq": 0,
                "type": "event",
                "event": "output",
                "body": {
                    "category": "console",
                    "output": f"{self.function_name}: a new execution environment attached; "
                    f"breakpoints set again\n",
                },
            }
        )

    def detach_worker(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()
        self._resumed()

    def _read_worker(self, worker: _Peer) -> None:
        while (message := worker.read()) is not None:
            if message.get("type") == "response" and message.get("request_seq", 0) >= _OWN_SEQ:
                waiter = self._waiting.pop(message["request_seq"], None)
                if waiter is not None:
                    waiter.append(message)
                    waiter[0].set()
                continue
            if message.get("type") == "event":
                event = message.get("event")
                if event == "initialized":
                    continue  # the proxy told the editor itself
                if event == "stopped":
                    self._stopped((message.get("body") or {}).get("threadId"))
                    if self._editor is None:  # nobody to look: run on
                        self._continue(worker)
                        continue
                elif event == "continued":
                    self._resumed()
            self._to_editor(message)
        with self._lock:
            current = self._worker is worker
            if current:
                self._worker = None
        worker.close()
        if current:  # the held process is gone (an older worker's end says nothing of the current one)
            self._resumed()

    def _to_editor(self, message: dict) -> None:
        editor = self._editor
        if editor is not None:
            try:
                editor.send(message)
            except OSError:
                pass

    def _continue(self, worker: _Peer) -> None:
        self._resumed()
        self._call(worker, "continue", {"threadId": self._stopped_thread or 0}, wait=False)

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _call(
        self, worker: _Peer, command: str, arguments: dict, wait: bool = True, timeout: float = 10.0
    ) -> dict | None:
        seq = self._next_seq()
        waiter = [threading.Event()]
        if wait:
            self._waiting[seq] = waiter
        try:
            worker.send({"seq": seq, "type": "request", "command": command, "arguments": arguments})
        except OSError:
            self._waiting.pop(seq, None)
            return None
        if not wait:
            return None
        waiter[0].wait(timeout)
        self._waiting.pop(seq, None)
        return waiter[1] if len(waiter) > 1 else None


class InvocationClock:
    """One invocation's time held by the debugger. The function's deadline moves by it: the sandbox's
    timeout check, and ``context.get_remaining_time_in_millis()`` through a file the worker's runtime reads
    (``<request id> <deadline ms>``, rewritten before each resume)."""

    def __init__(self, session: DebugSession, request_id: str, deadline_ms: int, clock_file: str | None):
        self.session, self.request_id, self.deadline_ms = session, request_id, deadline_ms
        self.clock_file = clock_file
        self._start = session.held_seconds()
        session.on_resume = self._write
        self._write()

    def held_s(self) -> float:
        return self.session.held_seconds() - self._start

    def _write(self) -> None:
        if self.clock_file:
            deadline = self.deadline_ms + int(self.held_s() * 1000)
            Path(self.clock_file).write_text(f"{self.request_id} {deadline}")

    def close(self) -> float:
        """Stop following the session; returns the seconds held."""
        if self.session.on_resume == self._write:
            self.session.on_resume = None
        return self.held_s()


def held_log_line(held_s: float) -> str:
    return f"DEBUG held the function for {held_s:.1f} s; Duration excludes it"


class Debugging:
    """Every debugged function of a sandbox, by name."""

    def __init__(self, targets=(), host: str = "127.0.0.1"):
        self.sessions = {t.function_name: DebugSession(t, host) for t in targets}

    def session(self, function_name: str) -> DebugSession | None:
        return self.sessions.get(function_name)

    def open_for(self, function):
        """The function's session, by its runtime: Node's inspector for a Node.js function (its session
        replaces the Python one made from --debug before the runtime was known), debugpy otherwise."""
        from sandbox.lambda_ import runtimes
        from sandbox.lambda_.node_debugging import NodeDebugSession

        session = self.sessions.get(function.function_name)
        if session is None:
            return None
        if runtimes.is_node(function.runtime) and not isinstance(session, NodeDebugSession):
            session.stop()
            session = self.sessions[function.function_name] = NodeDebugSession(session.target, session.host)
        return session

    def check(self, function_names) -> None:
        """One sentence for a --debug naming no function of the sandbox (each session's port opens when its
        function is registered, so a misspelt name would otherwise wait silently)."""
        for name in self.sessions:
            if name not in function_names:
                raise ConfigError(
                    f"--debug {name}: there is no function of that name (the functions: "
                    f"{', '.join(sorted(function_names))})."
                )

    def describe(self) -> list[dict]:
        return [session.describe() for session in self.sessions.values()]


@contextlib.contextmanager
def messages_kept_in_flight(sqs, queue_url: str, receipt_handles: list[str], debugged: bool):
    """While a debugged function runs an SQS batch, its messages stay invisible: their visibility is
    extended every half visibility timeout (ChangeMessageVisibilityBatch), as a poller can, so a stop at
    a breakpoint never hands the same messages to a second invocation. AWS's poller does not do this for
    an ordinary function, and neither does the sandbox (its timeout is within the visibility timeout)."""
    if not debugged or not receipt_handles:
        yield
        return
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])[
        "Attributes"
    ]
    visibility = max(int(attributes.get("VisibilityTimeout", 30)), 1)
    done = threading.Event()

    def extend() -> None:
        while not done.wait(visibility / 2):
            for start in range(0, len(receipt_handles), 10):
                try:
                    sqs.change_message_visibility_batch(
                        QueueUrl=queue_url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": visibility}
                            for i, handle in enumerate(receipt_handles[start : start + 10])
                        ],
                    )
                except Exception:  # the queue or the messages are gone: nothing left to keep
                    return

    thread = threading.Thread(target=extend, name="sqs-visibility", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
