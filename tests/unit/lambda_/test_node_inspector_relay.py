"""The sandbox's relay between an editor and a Node.js worker's inspector (node_debugging.py), against a
fake worker inspector that records the commands it is sent. Node's own inspector behind the relay:
tests/integration/lambda_/test_node_debugging.py."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from helpers.cdp_client import CdpClient
from sandbox.lambda_ import node_debugging
from sandbox.lambda_.debugging import DebugTarget
from sandbox.lambda_.node_debugging import RUN, NodeDebugSession, accept_key, read_frame


class FakeInspector:
    """A worker's inspector: takes WebSocket sessions, answers each command and records its method."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.server.getsockname()[1]}/worker"
        self.methods: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def runs(self) -> int:
        return self.methods.count(RUN)

    def _accept(self):
        while True:
            try:
                sock, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(sock,), daemon=True).start()

    def _session(self, sock):
        stream = sock.makefile("rb")
        headers = {}
        while (line := stream.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            headers[name.lower()] = value.strip()
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(headers["sec-websocket-key"]).encode() + b"\r\n\r\n"
        )
        try:
            while (frame := read_frame(stream)) is not None:
                if frame[1] == 8:
                    break
                message = json.loads(frame[3])
                self.methods.append(message["method"])
                answer = json.dumps({"id": message["id"], "result": {}}).encode()
                sock.sendall(bytes([0x81, len(answer)]) + answer)
        except OSError:
            pass
        sock.close()

    def close(self):
        self.server.close()


@pytest.fixture
def session():
    session = NodeDebugSession(DebugTarget("fn", port=0)).start()
    yield session
    session.stop()


@pytest.fixture
def worker():
    worker = FakeInspector()
    yield worker
    worker.close()


def eventually(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_run_command_that_reaches_a_worker_before_it_waits_is_said_again_until_the_worker_runs(
    session, worker, monkeypatch
):
    # Node forgets a Runtime.runIfWaitingForDebugger that arrives between inspector.open() and
    # waitForDebugger(): the worker would wait until INIT times out.
    monkeypatch.setattr(node_debugging, "RUN_AGAIN_S", 0.05)
    editor = CdpClient(session.describe()["webSocketDebuggerUrl"], timeout=5)
    try:
        editor.send(RUN)  # before the worker exists: kept for it
        assert eventually(lambda: session.describe()["editor_attached"])
        session.attach_worker(worker.url, "wait")
        assert eventually(lambda: worker.runs() >= 3), worker.methods  # the editor's, then the sandbox's
        session.worker_running(worker.url)
        time.sleep(0.1)
        said = worker.runs()
        time.sleep(0.3)
        assert worker.runs() == said  # a running worker is not told again
    finally:
        editor.close()


def test_a_run_command_to_a_worker_that_runs_already_is_passed_on_once(session, worker, monkeypatch):
    monkeypatch.setattr(node_debugging, "RUN_AGAIN_S", 0.05)
    session.attach_worker(worker.url, "run")
    editor = CdpClient(session.describe()["webSocketDebuggerUrl"], timeout=5)
    try:
        assert editor.call(RUN) == {}
        time.sleep(0.3)
        assert worker.runs() == 1
    finally:
        editor.close()


def test_a_reconnecting_worker_that_its_editor_leaves_without_running_it_runs_on(
    session, worker, monkeypatch
):
    monkeypatch.setattr(node_debugging, "RECONNECT_WAIT_S", 0.2)
    editor = CdpClient(session.describe()["webSocketDebuggerUrl"], timeout=5)
    assert eventually(lambda: session.describe()["editor_attached"])
    session.attach_worker(worker.url, "reconnect")
    assert editor.call("Debugger.enable") == {}  # the editor is at the worker...
    time.sleep(0.4)
    assert worker.runs() == 0  # ...so the sandbox leaves running it to the editor
    editor.close()  # it leaves without saying so: the worker runs on after the reconnect wait
    assert eventually(lambda: worker.runs() >= 1), worker.methods
