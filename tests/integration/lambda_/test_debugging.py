"""Step-through debugging (run_local.py --debug): the real debug protocol against a real sandbox, Lambda's
clocks paused while the debugger holds the function, the CPU share never suspending a held worker."""

from __future__ import annotations

import io
import os
import threading
import time

import pytest
from PIL import Image

from helpers.dap_client import DapClient
from helpers.paths import PROJECT_ROOT
from helpers.sandboxes import free_port
from helpers.waiting import wait_for_record

HANDLER_FILE = str(PROJECT_ROOT / "handler" / "lambda_function.py")
HOLD_S = 3.0
TIMEOUT_S = 2  # shorter than the hold: a running clock would time the invocation out


def _line(text: str, path: str = HANDLER_FILE) -> int:
    with open(path) as source:
        return next(n for n, line in enumerate(source, 1) if text in line)


RECORD_LINE = _line("result, exc = process_record(record, index)")  # in lambda_handler's loop
FIRST_LINE = _line('records = event.get("Records")')


def start_debugged_sandbox(port: int, **function_options):
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox
    from sandbox.lambda_.debugging import Debugging, DebugTarget

    function = FunctionConfiguration(code_dir=PROJECT_ROOT / "handler", timeout=TIMEOUT_S, **function_options)
    debug = Debugging([DebugTarget(function.function_name, port)])
    config = SandboxConfig(port=0, web_port=None, debug=debug)
    return Sandbox(config, function).start()


@pytest.fixture(scope="module")
def debugged():
    port = free_port()
    sb = start_debugged_sandbox(port)
    yield sb, port
    sb.stop()


def _jpeg(size=(400, 300)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def _child(client: DapClient, variable: dict, *path) -> dict:
    for name in path:
        variable = client.variables(variable["variablesReference"])[name]
    return variable


def _hold_then_continue(client: DapClient, thread_id: int) -> None:
    time.sleep(HOLD_S)  # the scenario itself: a developer looking longer than the function's timeout
    client.request("continue", {"threadId": thread_id})


@pytest.mark.slow
def test_breakpoint_in_handler_holds_an_upload_past_its_timeout_without_timing_out(debugged):
    sb, port = debugged
    client = DapClient(port)
    try:
        breakpoints = client.attach({HANDLER_FILE: [RECORD_LINE]})
        sb.s3.put_object(Bucket=sb.config.source_bucket, Key="debug/cat.jpg", Body=_jpeg())
        stopped = client.wait_event("stopped")
        thread_id = stopped["body"]["threadId"]
        frame, local = client.locals_of_top_frame(thread_id)
        assert (frame["name"], frame["line"]) == ("lambda_handler", RECORD_LINE)
        assert os.path.samefile(frame["source"]["path"], HANDLER_FILE)
        key = _child(client, local["record"], "'s3'", "'object'", "'key'")
        assert key["value"] == "'debug/cat.jpg'"
        assert sb.config.debug.describe()[0]["held"] is True
        _hold_then_continue(client, thread_id)
        record = wait_for_record(
            sb,
            lambda r: r.subject.get("key") == "debug/cat.jpg" and r.final,
            what="the debugged upload's invocation",
        )
    finally:
        client.close()
    # Set before any worker ran: unverified at first, verified by an event once the worker started.
    id_ = breakpoints[HANDLER_FILE][0]["id"]
    assert any(
        e["event"] == "breakpoint"
        and e["body"]["breakpoint"]["id"] == id_
        and e["body"]["breakpoint"]["verified"]
        for e in client.seen_events
    ), client.seen_events
    assert record.status == "success", (record.status, record.error_message)
    assert record.attempt == 1
    assert [r.attempt for r in sb.invocations() if r.subject.get("key") == "debug/cat.jpg"] == [1]
    assert record.duration_ms < HOLD_S * 1000  # Duration excludes the time held
    resized = sb.s3.get_object(Bucket=sb.config.destination_bucket, Key="resized-debug/cat.jpg")["Body"]
    resized = resized.read()
    assert Image.open(io.BytesIO(resized)).size[0] < 400
    lines = [e.message for e in sb.log_events(request_id=record.request_id)]
    assert any(line.startswith("DEBUG held the function for 3.") for line in lines), lines
    assert not any("Task timed out" in line for line in lines)


@pytest.mark.slow
def test_breakpoint_in_handler_holds_an_api_request_past_its_timeout(debugged):
    from helpers.api_gateway import call, http_api

    sb, port = debugged
    api = http_api(sb, sb.function.arn(sb.config.region))
    client = DapClient(port)
    answers = []
    try:
        client.attach({HANDLER_FILE: [FIRST_LINE]})
        request = threading.Thread(target=lambda: answers.append(call(sb, api, "/debug/me")))
        request.start()
        stopped = client.wait_event("stopped")
        thread_id = stopped["body"]["threadId"]
        frame, local = client.locals_of_top_frame(thread_id)
        assert frame["line"] == FIRST_LINE
        assert _child(client, local["event"], "'rawPath'")["value"] == "'/debug/me'"
        _hold_then_continue(client, thread_id)
        request.join(60)
    finally:
        client.close()
    # the handler's own answer to an event without Records
    assert answers and answers[0].status == 400, answers
    assert "no Records" in answers[0].json()["error"]
    api_records = [r for r in sb.invocations() if r.subject.get("api") == api]
    assert [r.status for r in api_records] == ["success"]


def test_page_state_says_which_function_is_in_debug_mode_and_on_which_port(debugged):
    from helpers.page import local_app

    sb, port = debugged
    state = local_app(sb).test_client().get("/api/state").get_json()
    assert state["debug"][0]["function"] == "ImageResizeLambda"
    assert state["debug"][0]["port"] == port
