"""A small Debug Adapter Protocol client, as an editor speaks it, for the debugging tests."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time


class DapClient:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 60.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(None)
        self.stream = self.sock.makefile("rb")
        self.timeout = timeout
        self._seq = 0
        self._responses: dict[int, queue.Queue] = {}
        self.events: queue.Queue = queue.Queue()
        self.seen_events: list[dict] = []
        self.closed_by_peer = threading.Event()  # the adapter hung up: no response will come
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            self._read_messages()
        finally:
            self.closed_by_peer.set()

    def _read_messages(self) -> None:
        while True:
            try:
                length = None
                while True:
                    line = self.stream.readline()
                    if not line:
                        return
                    if not line.strip():
                        if length is not None:
                            break
                        continue
                    name, _, value = line.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                message = json.loads(self.stream.read(length))
            except (OSError, ValueError):
                return
            if message.get("type") == "response":
                self._responses.setdefault(message["request_seq"], queue.Queue()).put(message)
            elif message.get("type") == "event":
                self.seen_events.append(message)
                self.events.put(message)

    def send(self, command: str, arguments: dict | None = None) -> int:
        self._seq += 1
        body = json.dumps(
            {"seq": self._seq, "type": "request", "command": command, "arguments": arguments or {}}
        ).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self._seq

    def request(self, command: str, arguments: dict | None = None) -> dict:
        seq = self.send(command, arguments)
        responses = self._responses.setdefault(seq, queue.Queue())
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                response = responses.get(timeout=0.1)
                break
            except queue.Empty:
                if self.closed_by_peer.is_set() and responses.empty():
                    raise ConnectionError(f"the debug adapter hung up before answering {command!r}") from None
                if time.monotonic() > deadline:
                    raise
        assert response["success"], response
        return response.get("body") or {}

    def wait_event(self, name: str, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            event = self.events.get(timeout=max(deadline - time.monotonic(), 0.01))
            if event["event"] == name:
                return event

    def attach(self, breakpoints: dict[str, list[int]]) -> dict[str, list[dict]]:
        """initialize, attach, setBreakpoints per file, configurationDone: an editor's start."""
        self.request(
            "initialize",
            {
                "clientID": "test",
                "adapterID": "debugpy",
                "pathFormat": "path",
                "linesStartAt1": True,
                "columnsStartAt1": True,
            },
        )
        self.request("attach", {"justMyCode": True})
        set_ = {}
        for path, lines in breakpoints.items():
            set_[path] = self.request(
                "setBreakpoints", {"source": {"path": path}, "breakpoints": [{"line": n} for n in lines]}
            )["breakpoints"]
        self.request("configurationDone")
        return set_

    def variables(self, reference: int) -> dict[str, dict]:
        found = self.request("variables", {"variablesReference": reference})["variables"]
        return {v["name"]: v for v in found}

    def locals_of_top_frame(self, thread_id: int) -> tuple[dict, dict[str, dict]]:
        frame = self.request("stackTrace", {"threadId": thread_id})["stackFrames"][0]
        scopes = self.request("scopes", {"frameId": frame["id"]})["scopes"]
        local = next(s for s in scopes if s["name"].lower().startswith("local"))
        return frame, self.variables(local["variablesReference"])

    def close(self) -> None:
        try:
            if not self.closed_by_peer.is_set():
                self.request("disconnect", {"terminateDebuggee": False})
        except Exception:
            pass
        self.sock.close()
