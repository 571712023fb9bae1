"""Step-through debugging of a Node.js function through Node's inspector (run_local.py --debug): a Chrome
DevTools Protocol client finds the target with /json/list, sets a breakpoint in the handler over the
WebSocket, the invocation stops there, a local variable is read, the debugger holds it past the function's
timeout, resumes, and the invocation succeeds with the held time left out of its Duration."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from helpers.cdp_client import CdpClient, targets
from helpers.runtimes import needs_node
from helpers.sandboxes import free_port

pytestmark = [pytest.mark.slow, needs_node]

HANDLER = """exports.handler = async (event, context) => {
  const greeting = `hello ${event.name}`;
  const remaining = context.getRemainingTimeInMillis();
  return { greeting, remaining };
};
"""
BREAKPOINT_LINE = 2  # 0-based: the `const remaining` line, where `greeting` is set
# The clock stops when the sandbox reads Debugger.paused in the relayed frames, after the scripts Node reports
# on Debugger.enable: on a loaded machine that can take a couple of seconds after the invocation starts.
TIMEOUT_S = 4
HOLD_S = 5.0  # longer than the timeout: a running clock would time the invocation out


@pytest.fixture
def debugged(tmp_path):
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox
    from sandbox.lambda_.debugging import Debugging, DebugTarget

    (tmp_path / "index.js").write_text(HANDLER)
    function = FunctionConfiguration(
        code_dir=tmp_path, runtime="nodejs20.x", handler="index.handler", timeout=TIMEOUT_S
    )
    port = free_port()
    debug = Debugging([DebugTarget(function.function_name, port, wait=True)])
    sb = Sandbox(SandboxConfig(port=0, web_port=None, debug=debug), function).start()
    yield sb, port
    sb.stop()


def test_a_breakpoint_in_the_handler_holds_the_invocation_past_its_timeout_without_timing_out(debugged):
    sb, port = debugged
    [target] = targets(port)
    assert target["type"] == "node" and target["webSocketDebuggerUrl"].startswith(f"ws://127.0.0.1:{port}/")
    answers = {}

    def invoke():
        response = sb.client("lambda").invoke(
            FunctionName=sb.function.function_name, Payload=json.dumps({"name": "inspector"})
        )
        answers["response"] = response
        answers["payload"] = json.loads(response["Payload"].read())

    client = CdpClient(target["webSocketDebuggerUrl"])
    try:
        # Sent before the worker exists: kept by the sandbox and given to the worker when it starts.
        client.send("Debugger.enable")
        client.send("Debugger.setBreakpointByUrl", {"lineNumber": BREAKPOINT_LINE, "urlRegex": r"index\.js$"})
        client.send("Runtime.runIfWaitingForDebugger")
        caller = threading.Thread(target=invoke)
        caller.start()
        paused = client.wait_event("Debugger.paused")["params"]
        frame = paused["callFrames"][0]
        scripts = {
            e["params"]["scriptId"]: e["params"]["url"]
            for e in client.events
            if e.get("method") == "Debugger.scriptParsed"
        }
        assert frame["functionName"] == "exports.handler"
        assert scripts[frame["location"]["scriptId"]].endswith("/index.js")
        assert frame["location"]["lineNumber"] == BREAKPOINT_LINE
        value = client.call(
            "Debugger.evaluateOnCallFrame", {"callFrameId": frame["callFrameId"], "expression": "greeting"}
        )
        assert value["result"]["value"] == "hello inspector"
        time.sleep(HOLD_S)  # the developer looks longer than the function's timeout
        client.call("Debugger.resume")
        caller.join(30)
    finally:
        client.close()
    assert "FunctionError" not in answers["response"], answers
    assert answers["payload"]["greeting"] == "hello inspector"
    # getRemainingTimeInMillis moved with the held time: still close to the whole timeout, not below 0
    assert answers["payload"]["remaining"] > 1000
    [record] = [r for r in sb.records.all() if r.function_name == sb.function.function_name]
    assert record.status == "success" and record.duration_ms < TIMEOUT_S * 1000
    messages = [e.message for e in sb.logs.events(request_id=record.request_id)]
    assert any(m.startswith("DEBUG held the function for") for m in messages), messages


def test_the_inspector_port_refuses_foreign_hosts_and_web_pages(debugged):
    _, port = debugged
    [target] = targets(port)
    path = "/" + target["webSocketDebuggerUrl"].rsplit("/", 1)[1]
    for headers, request_path in (
        ({"Host": "rebind.evil.example"}, "/json/list"),
        (
            {
                "Origin": "https://evil.example",
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
            },
            path,
        ),
    ):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", request_path, headers=headers)
        assert connection.getresponse().status == 403
        connection.close()


def test_node_s_own_inspector_notices_stay_out_of_the_function_s_log(debugged):
    sb, port = debugged
    [target] = targets(port)
    client = CdpClient(target["webSocketDebuggerUrl"])
    try:
        client.send("Runtime.runIfWaitingForDebugger")
        response = sb.client("lambda").invoke(FunctionName=sb.function.function_name, Payload=b"{}")
    finally:
        client.close()
    assert "FunctionError" not in response, json.loads(response["Payload"].read())
    request_id = response["ResponseMetadata"]["RequestId"]
    stream = next(r.log_stream for r in sb.records.all() if r.request_id == request_id)
    messages = [e.message for e in sb.logs.events(stream=stream)]
    assert any(m.startswith("INIT_START") for m in messages), messages
    assert not [m for m in messages if "Debugger listening" in m or "Debugger attached" in m], messages


def _break_and_resume(client: CdpClient, invoke, worker_running: bool) -> dict:
    """Set the breakpoint, run the worker if it waits, invoke, read ``greeting`` where it stops, resume.
    With a worker running, the breakpoint is set (answered) before the invocation, as an editor does;
    without one, the commands wait in the sandbox for the next worker, which waits for them."""
    breakpoint = {"lineNumber": BREAKPOINT_LINE, "urlRegex": r"index\.js$"}
    if worker_running:
        client.call("Debugger.enable")
        client.call("Debugger.setBreakpointByUrl", breakpoint)
    else:
        client.send("Debugger.enable")
        client.send("Debugger.setBreakpointByUrl", breakpoint)
    client.send("Runtime.runIfWaitingForDebugger")
    answers = {}

    def call():
        try:
            answers.update(invoke())
        except Exception as exc:  # said by the assertion below, not lost in the thread
            answers["error"] = repr(exc)

    caller = threading.Thread(target=call)
    caller.start()
    try:
        frame = client.wait_event("Debugger.paused")["params"]["callFrames"][0]
    except Exception as exc:
        caller.join(30)
        raise AssertionError(f"no pause ({exc!r}); the invocation: {answers}") from exc
    value = client.call(
        "Debugger.evaluateOnCallFrame", {"callFrameId": frame["callFrameId"], "expression": "greeting"}
    )
    client.call("Debugger.resume")
    caller.join(30)
    return {"greeting_at_breakpoint": value["result"]["value"], **answers}


def test_after_a_hot_reload_the_editor_reconnects_and_stops_in_the_new_code(tmp_path):
    from sandbox.cli.debug_commands import banner_lines
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox
    from sandbox.lambda_.debugging import Debugging, DebugTarget

    (tmp_path / "index.js").write_text(HANDLER)
    function = FunctionConfiguration(code_dir=tmp_path, runtime="nodejs20.x", handler="index.handler")
    port = free_port()
    sb = Sandbox(
        SandboxConfig(port=0, web_port=None, debug=Debugging([DebugTarget(function.function_name, port)])),
        function,
    ).start()

    def invoke():
        response = sb.client("lambda").invoke(FunctionName=function.function_name, Payload=b'{"name": "x"}')
        return {"payload": json.loads(response["Payload"].read())}

    try:
        assert f"{function.function_name} under Node.js inspector, attach to 127.0.0.1:{port}" in "".join(
            banner_lines(sb)
        )
        assert invoke()["payload"]["greeting"] == "hello x"  # no editor: the function runs as usual
        [target] = targets(port)
        client = CdpClient(target["webSocketDebuggerUrl"])
        first = _break_and_resume(client, invoke, worker_running=True)
        assert first["greeting_at_breakpoint"] == "hello x" and first["payload"]["greeting"] == "hello x", (
            first
        )
        (tmp_path / "index.js").write_text(HANDLER.replace("hello ", "hi "))  # hot reload: a new worker
        with pytest.raises(Exception):  # the old worker's connection closes...
            client.wait_event("Debugger.nothing", timeout=20)
        client.close()
        client = CdpClient(targets(port)[0]["webSocketDebuggerUrl"])  # ...and the editor reconnects
        try:
            answer = _break_and_resume(client, invoke, worker_running=False)
        finally:
            client.close()
        assert answer["greeting_at_breakpoint"] == "hi x" and answer["payload"]["greeting"] == "hi x"
    finally:
        sb.stop()


def test_a_new_worker_runs_on_when_the_editor_that_just_left_does_not_come_back(tmp_path, monkeypatch):
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox
    from sandbox.lambda_ import node_debugging
    from sandbox.lambda_.debugging import Debugging, DebugTarget

    monkeypatch.setattr(node_debugging, "RECONNECT_WAIT_S", 1.5)
    (tmp_path / "index.js").write_text(HANDLER)
    function = FunctionConfiguration(code_dir=tmp_path, runtime="nodejs20.x", handler="index.handler")
    port = free_port()
    sb = Sandbox(
        SandboxConfig(port=0, web_port=None, debug=Debugging([DebugTarget(function.function_name, port)])),
        function,
    ).start()
    try:
        client = CdpClient(targets(port)[0]["webSocketDebuggerUrl"])
        client.close()  # an editor came and went: the next worker waits a little for it, then runs on
        started = time.monotonic()
        response = sb.client("lambda").invoke(FunctionName=function.function_name, Payload=b'{"name": "y"}')
        waited_s = time.monotonic() - started
        assert json.loads(response["Payload"].read())["greeting"] == "hello y"
        assert waited_s >= 1.5
        [record] = [r for r in sb.records.all() if r.function_name == function.function_name]
        assert record.status == "success" and record.cold_start
        assert record.init_duration_ms < waited_s * 1000 - 1000  # the wait was the debugger's, not INIT's
    finally:
        sb.stop()
