"""Conformance: the same Runtime API scenarios give the same outcomes whether the function runs on the
Python bootstrap or the Node bootstrap (tests/handlers/conformance/: one handler in each language)."""

import base64
import json
import os
import re
import shutil

import pytest

from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox

node_missing = shutil.which("node") is None
# AWS's own Node runtime client, when installed (`npm install aws-lambda-ric` compiles native code): the path
# of its bin/index.mjs in AWS_LAMBDA_RIC_BIN.
AWS_RIC = os.environ.get("AWS_LAMBDA_RIC_BIN", "")
RUNTIMES = {
    "python": {"runtime": "python3.12", "handler": "lambda_function.handler", "error_type": "ValueError"},
    "node": {"runtime": "nodejs20.x", "handler": "index.handler", "error_type": "Error"},
    "aws-lambda-ric": {"runtime": "nodejs20.x", "handler": "index.handler", "error_type": "Error"},
}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=list(RUNTIMES))
def lang(request):
    if request.param != "python" and node_missing:
        pytest.skip("node is not installed: the Node runtime's tests need Node.js on PATH")
    if request.param == "aws-lambda-ric" and not os.path.isfile(AWS_RIC):
        pytest.skip("AWS's aws-lambda-ric is not installed: set AWS_LAMBDA_RIC_BIN to its bin/index.mjs")
    spec = RUNTIMES[request.param]
    patch = pytest.MonkeyPatch()
    if request.param == "aws-lambda-ric":
        patch.setenv("SANDBOX_NODE_RUNTIME_CLIENT", AWS_RIC)
    sb = start_sandbox(
        HANDLERS / "conformance",
        runtime=spec["runtime"],
        handler=spec["handler"],
        maximum_retry_attempts=0,
        timeout=2,
    )
    yield sb, spec
    sb.stop()
    patch.undo()


def messages(sb, record):
    return [e.message for e in sb.log_events(request_id=record.request_id)]


def _other_function(sb, spec, name, code_dir, handler=None):
    from sandbox.config import FunctionConfiguration

    sb.register_function(
        FunctionConfiguration(
            function_name=name,
            code_dir=code_dir,
            runtime=spec["runtime"],
            handler=handler or spec["handler"],
            maximum_retry_attempts=0,
        )
    )
    return name


def test_success_returns_the_handlers_value_with_the_context(lang):
    sb, spec = lang
    record = sb.invoke({"action": "echo", "value": 7})
    assert record.status == "success", record.result
    assert record.result == {
        "value": 7,
        "requestId": record.request_id,
        "functionName": "ImageResizeLambda",
        "memory": "128",
        "remainingPositive": True,
    }
    [line] = [m for m in messages(sb, record) if m.endswith("echo 7")]
    if spec["runtime"].startswith("nodejs"):  # the Node format: <ISO time>\t<request id>\tINFO\t<message>
        iso_time = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
        assert re.fullmatch(rf"{iso_time}\t{record.request_id}\tINFO\techo 7", line)
    warm = sb.invoke({"action": "echo", "value": 8})
    assert warm.cold_start is False and warm.init_duration_ms is None
    assert any(m.startswith("REPORT RequestId: " + warm.request_id) for m in messages(sb, warm))


def test_handler_error_is_posted_with_its_type_and_message(lang):
    sb, spec = lang
    record = sb.invoke({"action": "raise"})
    assert (record.status, record.error_type, record.error_message) == ("error", spec["error_type"], "boom")
    if spec["runtime"].startswith("nodejs"):
        assert record.result["trace"][0] == "Error: boom"
        assert any(f"\t{record.request_id}\tERROR\tInvoke Error \t{{" in m for m in messages(sb, record))
    assert sb.invoke({"action": "echo"}).cold_start is False  # the environment survives a handler error


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing_module", "Runtime.ImportModuleError"),
        ("missing_handler", "Runtime.HandlerNotFound"),
        ("syntax_error", "Runtime.UserCodeSyntaxError"),
    ],
)
def test_init_errors_are_reported_as_the_runtime_names_them(lang, case, expected):
    sb, spec = lang
    module, _, function = spec["handler"].partition(".")
    code_dir, handler = {
        "missing_module": (HANDLERS / "conformance", f"no_such_module.{function}"),
        "missing_handler": (HANDLERS / "conformance", f"{module}.no_such_handler"),
        "syntax_error": (HANDLERS / "conformance_syntax", spec["handler"]),
    }[case]
    name = _other_function(sb, spec, f"Init-{case.replace('_', '-')}", code_dir, handler)
    record = sb.invoke({}, function_name=name)
    assert (record.status, record.error_type) == ("error", expected), record.result
    report = [m for m in messages(sb, record) if m.startswith("REPORT")]
    assert report and "Init Duration" in report[0] and f"Error Type: {expected}" in report[0]


def test_timeout_kills_the_environment_and_the_next_one_is_cold(lang):
    sb, _ = lang
    record = sb.invoke({"action": "sleep", "seconds": 5})
    assert record.status == "timeout" and record.error_message == "Task timed out after 2.00 seconds"
    assert sb.invoke({"action": "echo"}).cold_start is True


def test_memory_limit_is_measured_on_the_runtime_process(lang):
    sb, _ = lang
    # 300 MB written at 7 % of a CPU, or by a cold start on a busy machine, can outlast the module's 2 s
    # timeout: the limit is measured with a full CPU and room to reach it.
    lam = sb.client("lambda")
    lam.update_function_configuration(FunctionName="ImageResizeLambda", Timeout=30)
    sb.set_full_cpu(True)
    try:
        record = sb.invoke({"action": "allocate", "mb": 300})
    finally:
        sb.set_full_cpu(False)
        lam.update_function_configuration(FunctionName="ImageResizeLambda", Timeout=2)
    assert (record.status, record.error_type) == ("out of memory", "Runtime.OutOfMemory"), record.result
    assert record.max_memory_used_mb >= 128
    assert sb.invoke({"action": "echo"}).cold_start is True


def test_large_response_arrives_whole(lang):
    sb, _ = lang
    record = sb.invoke({"action": "large", "bytes": 5_000_000})
    assert record.status == "success" and record.result == "x" * 5_000_000


def test_client_context_of_an_invoke_reaches_the_handler(lang):
    sb, _ = lang
    custom = {"client": {"installation_id": "abc"}, "custom": {"k": "v"}, "env": {"platform": "test"}}
    encoded = base64.b64encode(json.dumps(custom).encode()).decode()
    response = sb.client("lambda").invoke(
        FunctionName="ImageResizeLambda",
        ClientContext=encoded,
        Payload=json.dumps({"action": "client_context"}),
    )
    assert json.loads(response["Payload"].read()) == custom
