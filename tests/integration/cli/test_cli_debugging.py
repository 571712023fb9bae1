"""run_local.py as a process: --env-vars in sam local's format (with --code-dir, invoke and --template),
hot reload of a same-second, same-size edit, --debug's banner, refusal and debug-config vscode."""

from __future__ import annotations

import json
import os

import boto3
import pytest

from helpers.dap_client import DapClient
from helpers.processes import RunningSandbox, run_command
from helpers.sandboxes import free_port
from helpers.waiting import eventually

ECHO = """import os


def lambda_handler(event, context):
    return {name: os.environ.get(name) for name in ("GREETING", "TABLE", "UNDECLARED")}
"""
TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: lambda_function.lambda_handler
      Runtime: python3.12
      Environment:
        Variables:
          GREETING: from the template
          TABLE: from the template
"""
ENV_JSON = {
    "Parameters": {"TABLE": "global", "GREETING": "global", "UNDECLARED": "not declared"},
    "EchoFunction": {"GREETING": "the function's own"},
    "ImageResizeLambda": {"GREETING": "the function's own", "TABLE": True},
}


def _lambda(sandbox):
    return boto3.client(
        "lambda",
        endpoint_url=sandbox.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _invoke(sandbox, name="ImageResizeLambda") -> dict:
    return json.loads(_lambda(sandbox).invoke(FunctionName=name, Payload=b"{}")["Payload"].read())


@pytest.fixture
def echo(tmp_path):
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "lambda_function.py").write_text(ECHO)
    (tmp_path / "env.json").write_text(json.dumps(ENV_JSON))
    return tmp_path


@pytest.mark.slow
def test_env_vars_file_overrides_declared_variables_in_a_temporary_invoke(echo):
    (echo / "event.json").write_text("{}")
    result = run_command(
        "invoke",
        "--event",
        str(echo / "event.json"),
        "--code-dir",
        str(echo / "echo"),
        "--env",
        "GREETING=flag",
        "--env",
        "TABLE=flag",
        "--env-vars",
        str(echo / "env.json"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # the function's own entry over Parameters; true as "true"; an undeclared variable is not set
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "GREETING": "the function's own",
        "TABLE": "true",
        "UNDECLARED": None,
    }


@pytest.mark.slow
def test_env_vars_file_applies_to_a_templates_function_by_logical_id(echo):
    (echo / "template.yaml").write_text(TEMPLATE)
    sandbox = RunningSandbox("--template", str(echo / "template.yaml"), "--env-vars", str(echo / "env.json"))
    try:
        names = [f["FunctionName"] for f in _lambda(sandbox).list_functions()["Functions"]]
        name = next(n for n in names if "EchoFunction" in n)
        assert _invoke(sandbox, name) == {
            "GREETING": "the function's own",
            "TABLE": "global",
            "UNDECLARED": None,
        }
        assert "does not declare UNDECLARED" not in sandbox.banner  # Parameters may name any variable
        assert "no function 'ImageResizeLambda' here" in "".join(sandbox.output)
    finally:
        sandbox.stop()


def test_env_vars_file_that_is_not_sam_format_gets_one_sentence(tmp_path):
    (tmp_path / "env.json").write_text(json.dumps({"ImageResizeLambda": "GREETING=hi"}))
    result = run_command("--port", "0", "--no-web", "--env-vars", str(tmp_path / "env.json"))
    assert result.returncode == 2
    assert "in incorrect format" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_same_second_same_size_edit_reaches_the_next_invocation(tmp_path):
    handler = tmp_path / "lambda_function.py"
    handler.write_text("def lambda_handler(event, context):\n    return 'one'\n")
    sandbox = RunningSandbox("--code-dir", str(tmp_path))
    try:
        assert _invoke(sandbox) == "one"
        before = handler.stat()
        handler.write_text("def lambda_handler(event, context):\n    return 'two'\n")  # same size
        os.utime(handler, ns=(before.st_atime_ns, before.st_mtime_ns))  # ... and the same second
        eventually(
            lambda: "".join(sandbox.output),
            lambda text: "warm environments retired" in text,
            what="the hot reload's line",
        )
        assert _invoke(sandbox) == "two"
    finally:
        sandbox.stop()


@pytest.mark.slow
def test_debug_banner_names_the_port_and_an_editor_can_attach(tmp_path):
    port = free_port()
    sandbox = RunningSandbox("--debug", f"ImageResizeLambda:{port}")
    try:
        assert f"ImageResizeLambda under debugpy, attach to 127.0.0.1:{port}" in sandbox.banner
        client = DapClient(port)
        assert client.request("initialize", {"adapterID": "debugpy"})["supportsConfigurationDoneRequest"]
        client.close()
    finally:
        sandbox.stop()


def test_debug_of_a_function_this_python_does_not_run_is_refused_in_one_sentence():
    result = run_command("--port", "0", "--no-web", "--debug", "NoSuchFunction")
    assert result.returncode == 2 and "--debug NoSuchFunction: there is no function" in result.stderr
    from sandbox.config import FunctionConfiguration
    from sandbox.lambda_.debugging import refusal

    custom = FunctionConfiguration(function_name="web", runtime="provided.al2023", handler="x")
    assert "only functions run by this machine's Python or Node.js" in refusal(custom, None)
    assert refusal(FunctionConfiguration(), ("{python}", "-m", "awslambdaric", "{handler}")) is not None
    assert refusal(FunctionConfiguration(), None) is None
    node = FunctionConfiguration(function_name="web", runtime="nodejs20.x", handler="index.handler")
    assert refusal(node, None) is None  # Node's inspector (tests/integration/lambda_/test_node_debugging.py)


def test_debug_config_vscode_writes_an_attach_configuration_beside_existing_ones(tmp_path):
    (tmp_path / ".vscode").mkdir()
    (tmp_path / ".vscode" / "launch.json").write_text(
        json.dumps(
            {"version": "0.2.0", "configurations": [{"name": "mine", "type": "debugpy", "request": "launch"}]}
        )
    )
    result = run_command("debug-config", "vscode", "--dir", str(tmp_path), "--port", "5799")
    assert result.returncode == 0, result.stderr
    launch = json.loads((tmp_path / ".vscode" / "launch.json").read_text())
    mine, attach = launch["configurations"]
    assert mine["name"] == "mine"
    assert (attach["type"], attach["request"], attach["connect"]) == (
        "debugpy",
        "attach",
        {"host": "127.0.0.1", "port": 5799},
    )
    assert attach["pathMappings"] == [{"localRoot": "${workspaceFolder}", "remoteRoot": "${workspaceFolder}"}]
    assert attach["justMyCode"] is True


def test_debug_config_vscode_for_node_writes_a_node_attach_configuration_that_reconnects(tmp_path):
    result = run_command(
        "debug-config", "vscode", "--print", "--runtime", "node", "--port", "9230", "--function-name", "Web"
    )
    assert result.returncode == 0, result.stderr
    [attach] = json.loads(result.stdout)["configurations"]
    assert (attach["type"], attach["request"], attach["address"], attach["port"]) == (
        "node",
        "attach",
        "127.0.0.1",
        9230,
    )
    assert attach["restart"] is True and attach["name"] == "Attach to Web (run_local.py --debug, Node.js)"


@pytest.mark.slow
def test_invoke_debug_waits_for_the_editor_then_stops_at_its_breakpoint(tmp_path):
    import subprocess
    import threading

    from helpers.paths import PROJECT_ROOT
    from helpers.processes import RUN_LOCAL

    (tmp_path / "lambda_function.py").write_text(
        "def lambda_handler(event, context):\n    answer = event['question'] * 2\n    return answer\n"
    )
    (tmp_path / "event.json").write_text(json.dumps({"question": 21}))
    port = free_port()
    proc = subprocess.Popen(
        RUN_LOCAL
        + [
            "invoke",
            "--event",
            str(tmp_path / "event.json"),
            "--code-dir",
            str(tmp_path),
            "--timeout",
            "1",
            "--debug",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        client = eventually(lambda: _connect(port), what="the debug port of run_local.py invoke --debug")
        client.attach({str(tmp_path / "lambda_function.py"): [3]})
        stopped = client.wait_event("stopped")
        frame, local = client.locals_of_top_frame(stopped["body"]["threadId"])
        assert local["answer"]["value"] == "42"
        threading.Event().wait(1.5)  # longer than the 1 s timeout
        client.request("continue", {"threadId": stopped["body"]["threadId"]})
        out, err = proc.communicate(timeout=60)
        client.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out + err
    assert out.strip().splitlines()[-1] == "42"
    assert "DEBUG held the function for 1." in out


def _connect(port):
    try:
        return DapClient(port, timeout=60)
    except OSError:
        return None


def test_debug_of_a_function_run_by_awslambdaric_is_refused_when_the_sandbox_starts():
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox
    from sandbox.errors import ConfigError
    from sandbox.lambda_.debugging import Debugging, DebugTarget

    debug = Debugging([DebugTarget("ImageResizeLambda", free_port())])
    sandbox = Sandbox(
        SandboxConfig(port=0, web_port=None, runtime_client="awslambdaric", debug=debug),
        FunctionConfiguration(),
    )
    with pytest.raises(ConfigError, match="only functions run by this machine's Python"):
        sandbox.start()
    assert debug.describe()[0]["port"] is None  # nothing was left listening
