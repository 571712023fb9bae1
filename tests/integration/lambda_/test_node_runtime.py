"""The Node.js runtime's own behaviour (handler forms, callbacks, log format, layers) and custom runtimes
(provided.al2023: the code's executable bootstrap), through functions created with the Lambda API."""

import json
import re
import shutil
import time

import pytest

from helpers.runtimes import (
    BOOTSTRAP,
    conformance_files,
    create_function,
    invoke_function,
    needs_node,
    zip_files,
)
from helpers.sandboxes import start_sandbox

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


@needs_node
def test_callback_handler_waits_for_the_empty_event_loop_unless_told_not_to(sb):
    create_function(sb, "NodeCallback", "nodejs20.x", "callback.handler", conformance_files("callback.js"))
    started = time.monotonic()
    _, waited, log = invoke_function(sb, "NodeCallback", {"waits": True})
    waited_s = time.monotonic() - started
    assert "WARN\ttimer done" in log  # the 300 ms timer ran before the response was sent
    _, answered, log = invoke_function(sb, "NodeCallback", {"waits": False})
    assert "timer done" not in log
    assert set(waited) == set(answered) == {"started"}
    assert waited_s >= 0.3


@needs_node
def test_cjs_module_nested_export_and_every_log_level_in_the_node_format(sb):
    create_function(sb, "NodeCjs", "nodejs22.x", "legacy.nested.handler", conformance_files("legacy.cjs"))
    response, payload, log = invoke_function(sb, "NodeCjs")
    assert payload == "cjs" and "FunctionError" not in response
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    for level, message in (
        ("ERROR", "an error line"),
        ("WARN", "a warn line"),
        ("DEBUG", "a debug line"),
        ("TRACE", "a trace line"),
        ("INFO", "multi\nline"),
    ):
        assert re.search(rf"^{ISO}\t{request_id}\t{level}\t{message}$", log, re.M), (level, log)


@needs_node
def test_json_log_format_and_the_error_response_shape(sb):
    create_function(
        sb,
        "NodeJson",
        "nodejs20.x",
        "index.handler",
        conformance_files("index.mjs"),
        LoggingConfig={"LogFormat": "JSON"},
        Environment={"Variables": {"AWS_LAMBDA_LOG_FORMAT": "JSON"}},
    )
    _, _, log = invoke_function(sb, "NodeJson", {"action": "echo", "value": 3})
    record = json.loads(next(line for line in log.splitlines() if line.startswith("{")))
    assert set(record) == {"timestamp", "level", "requestId", "message"} and record["message"] == "echo 3"
    response, error, log = invoke_function(sb, "NodeJson", {"action": "raise"})
    assert response["FunctionError"] == "Unhandled"
    assert (error["errorType"], error["errorMessage"]) == ("Error", "boom")
    assert error["trace"][0] == "Error: boom" and "index.mjs" in error["trace"][1]


@needs_node
def test_layer_packages_resolve_through_node_path_as_on_aws(sb):
    lam = sb.client("lambda")
    layer = lam.publish_layer_version(
        LayerName="node-greeting",
        Content={
            "ZipFile": zip_files(
                {
                    "nodejs/node_modules/greeting/index.js": "module.exports = (name) => `hello ${name}`;\n",
                    "nodejs/node_modules/greeting/package.json": '{"name": "greeting", "main": "index.js"}',
                }
            )
        },
    )
    create_function(
        sb,
        "NodeLayer",
        "nodejs20.x",
        "app.handler",
        {"app.js": "const greet = require('greeting');\nexports.handler = async (e) => greet(e.name);\n"},
        Layers=[layer["LayerVersionArn"]],
    )
    _, payload, _ = invoke_function(sb, "NodeLayer", {"name": "layer"})
    assert payload == "hello layer"


@needs_node
def test_es_module_by_package_type_and_import_error_message(sb):
    create_function(
        sb,
        "NodeTypeModule",
        "nodejs20.x",
        "app.handler",
        {
            "package.json": '{"type": "module"}',
            "app.js": "import os from 'node:os';\nexport const handler = async () => typeof os.cpus;\n",
        },
    )
    assert invoke_function(sb, "NodeTypeModule")[1] == "function"
    create_function(
        sb,
        "NodeMissingPackage",
        "nodejs20.x",
        "app.handler",
        {"app.mjs": "import nope from 'no-such-package';\nexport const handler = async () => nope;\n"},
    )
    response, error, _ = invoke_function(sb, "NodeMissingPackage")
    assert response["FunctionError"] == "Unhandled" and error["errorType"] == "Runtime.ImportModuleError"
    assert "no-such-package" in error["errorMessage"]
    log = "\n".join(e.message for e in sb.log_events())  # logged during INIT, before any request
    uncaught = rf"{ISO}\tundefined\tERROR\tUncaught Exception \t{{\"errorType\":\"Runtime.ImportModuleError\""
    assert re.search(uncaught, log), log


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("sh") is None, reason="needs sh and curl")
def test_provided_runtime_runs_the_zipped_executable_bootstrap(sb):
    create_function(
        sb, "Custom", "provided.al2023", "my.handler", {"bootstrap": BOOTSTRAP}, {"bootstrap": 0o755}
    )
    response, payload, log = invoke_function(sb, "Custom", {"n": 1})
    assert payload == {"echo": {"n": 1}, "handler": "my.handler"}, payload
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert f"handling {request_id} with my.handler" in log
    assert "INIT_START Runtime Version: provided:al2023" in "\n".join(
        e.message for e in sb.log_events() if e.message.startswith("INIT_START")
    )


def test_provided_runtime_without_an_executable_bootstrap_fails_init(sb):
    create_function(
        sb, "CustomNotExecutable", "provided.al2023", "x", {"bootstrap": BOOTSTRAP}, {"bootstrap": 0o644}
    )
    response, error, _ = invoke_function(sb, "CustomNotExecutable")
    assert response["FunctionError"] == "Unhandled" and error["errorType"] == "Runtime.InvalidEntrypoint"
    assert "permission denied" in error["errorMessage"]


@needs_node
def test_the_page_lists_a_node_functions_invocations_like_any_other(sb):
    from web.app import create_app

    create_function(sb, "NodeOnThePage", "nodejs20.x", "index.handler", conformance_files("index.mjs"))
    response, _, _ = invoke_function(sb, "NodeOnThePage", {"action": "echo", "value": 5})
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    client = create_app(sb, {"WEB_PORT": 8000}).test_client()
    page = "http://127.0.0.1:8000"
    rows = client.get("/api/invocations?limit=500", base_url=page).get_json()["invocations"]
    [row] = [r for r in rows if request_id in json.dumps(r)]
    assert "NodeOnThePage" in json.dumps(row) and "success" in json.dumps(row)
    detail = client.get(f"/api/invocations/{request_id}/1", base_url=page).get_json()
    assert f"{request_id}\\tINFO\\techo 5" in json.dumps(detail["logs"])  # the Node format, on the page


def test_a_runtime_the_sandbox_cannot_run_fails_its_invocations_with_one_clear_message(sb):
    create_function(
        sb, "JavaFunction", "java21", "example.Handler::handleRequest", {"app.jar": "not run here"}
    )
    response, error, _ = invoke_function(sb, "JavaFunction")
    assert response["FunctionError"] == "Unhandled" and error["errorType"] == "Runtime.InvalidEntrypoint"
    assert "not java21" in error["errorMessage"]
    assert (
        invoke_function(sb, "JavaFunction")[1]["errorType"] == "Runtime.InvalidEntrypoint"
    )  # the sandbox keeps running
