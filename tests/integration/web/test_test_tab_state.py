"""The Test tab's saved events in a sandbox with a state directory: through the real WebServer over
HTTP, saved before a stop and listed, loaded, by the next sandbox over the same directory."""

from __future__ import annotations

import re

import requests

from helpers.paths import PROJECT_ROOT
from web.app import create_app
from web.server import WebServer

FUNCTION = "ImageResizeLambda"


def post(base, token, path, body):
    headers = {"X-Sandbox-Token": token, "Origin": base, "Sec-Fetch-Site": "same-origin"}
    return requests.post(base + path, json=body, headers=headers, timeout=120)


def _served(state_dir):
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox

    sandbox = Sandbox(
        SandboxConfig(port=0, web_port=None, state_dir=str(state_dir), full_cpu=True),
        FunctionConfiguration(code_dir=PROJECT_ROOT / "handler"),
    ).start()
    return sandbox, WebServer(create_app(sandbox), port=0).start()


def test_events_saved_with_a_state_directory_are_listed_after_a_restart(tmp_path):
    sandbox, server = _served(tmp_path / "state")
    try:
        base = server.url.rstrip("/")
        token = re.search(r'name="sandbox-token" content="([^"]+)"', requests.get(base, timeout=30).text)
        saved = post(
            base, token.group(1), f"/api/test/events/{FUNCTION}", {"name": "kept", "event": {"a": 1}}
        )
        assert saved.json()["persistent"] is True
    finally:
        server.stop()
        sandbox.stop()
    sandbox, server = _served(tmp_path / "state")
    try:
        base = server.url.rstrip("/")
        listed = requests.get(f"{base}/api/test/events/{FUNCTION}", timeout=30).json()
        assert [e["name"] for e in listed["events"]] == ["kept"] and listed["persistent"] is True
        assert requests.get(f"{base}/api/test/events/{FUNCTION}/kept", timeout=30).json()["event"] == {"a": 1}
    finally:
        server.stop()
        sandbox.stop()
