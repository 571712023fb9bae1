"""A small Chrome DevTools Protocol client (websocket-client) for a debugger that speaks Node's inspector
protocol: discovery through ``/json/list``, then commands and events over the target's WebSocket."""

from __future__ import annotations

import json
import time
import urllib.request

import websocket


def targets(port: int, timeout: float = 10.0) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as response:
        return json.loads(response.read())


class CdpClient:
    def __init__(self, ws_url: str, timeout: float = 60.0):
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self._id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None) -> int:
        """Send a command without waiting (its answer may come only once a worker runs)."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params or {}}))
        return self._id

    def call(self, method: str, params: dict | None = None) -> dict:
        sent = self.send(method, params)
        while True:
            message = self._read()
            if message.get("id") == sent:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result") or {}

    def wait_event(self, method: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(index)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self._read()

    def _read(self) -> dict:
        message = json.loads(self.ws.recv())
        if "method" in message:
            self.events.append(message)
        return message

    def close(self) -> None:
        self.ws.close()
