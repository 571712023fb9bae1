"""Conformance: the same Runtime API scenarios give the same outcomes whether the function runs on the
Python bootstrap or the Node bootstrap (tests/handlers/conformance/: one handler in each language)."""
import base64
import json
import shutil

import pytest

from conftest import HANDLERS, start_sandbox

node_missing = shutil.which("node") is None
RUNTIMES = {
    "python": {"runtime": "python3.12", "handler": "lambda_function.handler", "error_type": "ValueError"},
    "node": {"runtime": "nodejs20.x", "handler": "index.handler", "error_type": "Error"},
}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=list(RUNTIMES))
def lang(request):
    if request.param == "node" and node_missing:
        pytest.skip("node is not installed: the Node runtime's tests need Node.js on PATH")
    spec = RUNTIMES[request.param]
    sb = start_sandbox(HANDLERS / "conformance", runtime=spec["runtime"], handler=spec["handler"],
                       maximum_retry_attempts=0, timeout=2)
    yield sb, spec
    sb.stop()


def messages(sb, record):
    return [e.message for e in sb.log_events(request_id=record.request_id)]


def _other_function(sb, spec, name, code_dir, handler=None):
    from sandbox.config import FunctionConfiguration

    sb.register_function(FunctionConfiguration(function_name=name, code_dir=code_dir, runtime=spec["runtime"],
                                                handler=handler or spec["handler"], maximum_retry_attempts=0))
    return name


def test_success_returns_the_handlers_value_with_the_context(lang):
    sb, _ = lang
    record = sb.invoke({"action": "echo", "value": 7})
    assert record.status == "success", record.result
    assert record.result == {"value": 7, "requestId": record.request_id, "functionName": "ImageResizeLambda",
                             "memory": "128", "remainingPositive": True}
    assert any(m.endswith("echo 7") for m in messages(sb, record))
    warm = sb.invoke({"action": "echo", "value": 8})
    assert warm.cold_start is False and warm.init_duration_ms is None
    assert any(m.startswith("REPORT RequestId: " + warm.request_id) for m in messages(sb, warm))


def test_handler_error_is_posted_with_its_type_and_message(lang):
    sb, spec = lang
    record = sb.invoke({"action": "raise"})
    assert (record.status, record.error_type, record.error_message) == ("error", spec["error_type"], "boom")
    assert sb.invoke({"action": "echo"}).cold_start is False  # the environment survives a handler error


@pytest.mark.parametrize("case, expected", [
    ("missing_module", "Runtime.ImportModuleError"),
    ("missing_handler", "Runtime.HandlerNotFound"),
    ("syntax_error", "Runtime.UserCodeSyntaxError"),
])
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
    record = sb.invoke({"action": "allocate", "mb": 300})
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
    response = sb.client("lambda").invoke(FunctionName="ImageResizeLambda",
                                          Payload=json.dumps({"action": "client_context"}),
                                          ClientContext=base64.b64encode(json.dumps(custom).encode()).decode())
    assert json.loads(response["Payload"].read()) == custom
