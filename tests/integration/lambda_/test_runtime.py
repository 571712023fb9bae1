"""Execution environments: what the handler sees, cold and warm starts, and every way it can fail."""

import os
import signal
import threading

import pytest

from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, wait_for_record


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


def messages(sb, record):
    return [e.message for e in sb.log_events(request_id=record.request_id)]


def test_context_has_every_attribute_of_the_real_one(sb):
    record = sb.invoke({"action": "context"})
    assert record.status == "success", record.result
    ctx = record.result
    assert ctx["function_name"] == "ImageResizeLambda"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ImageResizeLambda"
    assert ctx["memory_limit_in_mb"] == "128"
    assert ctx["aws_request_id"] == record.request_id
    assert ctx["log_group_name"] == "/aws/lambda/ImageResizeLambda"
    assert ctx["log_stream_name"] == record.log_stream
    assert 0 < ctx["remaining"] <= 3000
    assert ctx["identity"] is True and ctx["client_context"] is None


def test_environment_variables_are_lambdas_plus_the_local_endpoint(sb):
    env = sb.invoke({"action": "context"}).result["env"]
    expected = {
        "AWS_LAMBDA_FUNCTION_NAME": "ImageResizeLambda",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/ImageResizeLambda",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "_HANDLER": "lambda_function.lambda_handler",
        "TZ": ":UTC",
        "AWS_ENDPOINT_URL": sb.endpoint_url,
    }
    for key, value in expected.items():
        assert env.get(key) == value, key
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "_X_AMZN_TRACE_ID",
    ):
        assert env.get(key), key
    assert env["LAMBDA_TASK_ROOT"] == str(HANDLERS / "faults")


def test_warm_invocations_reuse_the_process_and_its_globals(sb):
    first = sb.invoke({"action": "ok"})
    second = sb.invoke({"action": "ok"})
    assert first.result["pid"] == second.result["pid"]
    assert second.cold_start is False and second.init_duration_ms is None


def test_raised_exception_becomes_aws_error_payload_and_error_line(sb):
    record = sb.invoke({"action": "raise"})
    assert record.status == "error"
    assert record.result["errorType"] == "ValueError"
    assert record.result["errorMessage"] == "boom"
    assert record.result["requestId"] == record.request_id
    assert any("lambda_function.py" in frame for frame in record.result["stackTrace"])
    [error_line] = [m for m in messages(sb, record) if m.startswith("[ERROR]")]
    assert error_line.startswith("[ERROR] ValueError: boom\nTraceback (most recent call last):")
    # an error does not end the environment
    assert sb.invoke({"action": "ok"}).cold_start is False


def test_logging_output_is_one_event_per_record_in_aws_format(sb):
    record = sb.invoke({"action": "multiline"})
    [line] = [m for m in messages(sb, record) if m.startswith("[INFO]")]
    level, stamp, request_id, message = line.split("\t", 3)
    assert (level, request_id, message) == ("[INFO]", record.request_id, "first line\nsecond line")
    assert stamp.endswith("Z") and len(stamp) == len("2026-11-27T01:37:29.324Z")


@pytest.mark.slow  # the function's 3 s timeout runs out
def test_timeout_kills_the_environment_with_aws_messages(sb):
    record = sb.invoke({"action": "sleep", "seconds": 10})
    assert record.status == "timeout"
    lines = messages(sb, record)
    assert any(line.endswith(f"{record.request_id} Task timed out after 3.00 seconds") for line in lines)
    [report] = [line for line in lines if line.startswith("REPORT")]
    assert "\tStatus: timeout" in report and "Duration: 3000.00 ms" in report
    assert sb.invoke({"action": "ok"}).cold_start is True


def test_memory_past_the_limit_is_out_of_memory_and_recycles_the_environment(sb):
    record = sb.invoke({"action": "grow", "mb": 400})
    assert record.status == "out of memory"
    assert record.error_type == "Runtime.OutOfMemory"
    lines = messages(sb, record)
    assert any(
        "Runtime exited with error: signal: killed" in line and "Runtime.OutOfMemory" in line
        for line in lines
    )
    assert record.max_memory_used_mb >= 128
    assert sb.invoke({"action": "ok"}).cold_start is True


def test_sys_exit_is_runtime_exit_error(sb):
    record = sb.invoke({"action": "exit"})
    assert record.error_type == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in record.error_message
    assert sb.invoke({"action": "ok"}).status == "success"


def test_worker_killed_from_outside_ends_the_invocation_and_a_new_environment_starts(sb):
    warm = sb.invoke({"action": "ok"})
    event = {"action": "sleep", "seconds": 2}
    result = {}
    thread = threading.Thread(target=lambda: result.update(record=sb.invoke(event)))
    thread.start()
    running = wait_for_record(sb, lambda r: r.event is event, what="the sleeping invocation to be recorded")
    # started_at is set once the event is handed to the (warm) environment: a kill from then on ends this
    # invocation, not the environment before it is chosen.
    eventually(lambda: running.started_at, what="the sleeping invocation to start in the warm environment")
    os.kill(warm.result["pid"], signal.SIGKILL)
    thread.join(10)
    assert result["record"].error_type == "Runtime.ExitError"
    assert "signal: killed" in result["record"].error_message
    after = sb.invoke({"action": "ok"})
    assert after.cold_start is True and after.result["pid"] != warm.result["pid"]


def test_flooding_stdout_or_printing_binary_does_not_stall_the_log_writer(sb):
    flood = sb.invoke({"action": "flood", "lines": 20000})
    assert flood.status == "success"
    binary = sb.invoke({"action": "binary"})
    assert binary.status == "success"
    assert any("binary" in m for m in messages(sb, binary))
    assert sb.invoke({"action": "ok"}).status == "success"


def test_unserializable_result_is_a_marshal_error(sb):
    record = sb.invoke({"action": "unserializable"})
    assert record.result["errorType"] == "Runtime.MarshalError"


def test_cold_start_reports_init_duration_and_bills_it(sb):
    sb.retire_environments()
    record = sb.invoke({"action": "ok"})
    assert record.cold_start and record.init_duration_ms > 0
    assert record.billed_duration_ms >= int(record.init_duration_ms + record.duration_ms)
    [report] = [m for m in messages(sb, record) if m.startswith("REPORT")]
    assert f"Init Duration: {record.init_duration_ms:.2f} ms" in report
