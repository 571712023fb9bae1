"""Lambda's API through the local endpoint, with boto3 and the AWS CLI: the sandbox's function is real."""

import base64
import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import PIL
import pytest
from botocore.exceptions import ClientError

from helpers.aws_cli import aws_command
from helpers.paths import HANDLERS, PROJECT_ROOT, SAMPLES
from helpers.sandboxes import start_sandbox
from helpers.waiting import wait_for_record


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def lam(sb):
    return sb.client("lambda")


def _zip(files: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in files.items():
            archive.write(path, name)
    return buffer.getvalue()


def test_invoke_request_response_returns_the_handlers_result(lam):
    response = lam.invoke(FunctionName="ImageResizeLambda", Payload=json.dumps({"action": "ok"}))
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read())["ok"] is True


def test_invoke_error_sets_function_error_and_tail_has_the_logs(lam):
    response = lam.invoke(
        FunctionName="ImageResizeLambda", Payload=json.dumps({"action": "raise"}), LogType="Tail"
    )
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "ValueError" and payload["errorMessage"] == "boom"
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "[ERROR] ValueError: boom" in tail and "REPORT RequestId:" in tail
    assert len(response["LogResult"]) <= 4 * 1024 * 4 // 3 + 4


def test_invoke_event_is_asynchronous_202(sb, lam):
    before = len(sb.invocations())
    response = lam.invoke(
        FunctionName="ImageResizeLambda", Payload=json.dumps({"action": "ok"}), InvocationType="Event"
    )
    assert response["StatusCode"] == 202
    record = wait_for_record(
        sb,
        lambda r: r.invocation_type == "Event" and r.finished,
        what="the asynchronous invocation to finish",
    )
    assert record.status == "success" and len(sb.invocations()) > before


def test_aws_cli_invoke_writes_the_result_file(sb, tmp_path):
    env = dict(os.environ, **sb.client_environment())
    out = tmp_path / "out.json"
    result = subprocess.run(
        [
            *aws_command(),
            "lambda",
            "invoke",
            "--function-name",
            "ImageResizeLambda",
            "--payload",
            '{"action": "ok"}',
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text())["ok"] is True


def test_update_function_configuration_applies_and_the_next_invocation_is_cold(sb, lam):
    lam.invoke(FunctionName="ImageResizeLambda", Payload=b'{"action": "ok"}')
    lam.update_function_configuration(
        FunctionName="ImageResizeLambda",
        MemorySize=256,
        Timeout=5,
        Environment={"Variables": {"GREETING": "hi"}},
    )
    config = lam.get_function_configuration(FunctionName="ImageResizeLambda")
    assert (config["MemorySize"], config["Timeout"]) == (256, 5)
    assert (sb.function.memory_size, sb.function.timeout) == (256, 5)
    record = sb.invoke({"action": "context"})
    assert record.cold_start is True
    assert record.result["memory_limit_in_mb"] == "256"
    assert record.result["env"]["GREETING"] == "hi"


def test_out_of_range_configuration_is_refused_with_lambdas_message(sb, lam):
    with pytest.raises(ClientError) as error:
        lam.update_function_configuration(FunctionName="ImageResizeLambda", Timeout=901)
    assert "Timeout" in str(error.value) or "timeout" in str(error.value)
    with pytest.raises(ClientError) as error:
        lam.update_function_configuration(
            FunctionName="ImageResizeLambda", Environment={"Variables": {"AWS_REGION": "eu-west-1"}}
        )
    assert "reserved keys" in str(error.value)
    assert sb.function.timeout != 901


# The function's files, as `run_local.py package` zips them.
HANDLER_FILES = {path.name: path for path in sorted((PROJECT_ROOT / "handler").glob("*.py"))}


def test_update_function_code_runs_the_new_code_on_a_cold_start(sb, lam, tmp_path):
    source = tmp_path / "lambda_function.py"
    source.write_text("def lambda_handler(event, context):\n    return {'version': 2}\n")
    lam.update_function_code(FunctionName="ImageResizeLambda", ZipFile=_zip({"lambda_function.py": source}))
    record = sb.invoke({})
    assert record.result == {"version": 2} and record.cold_start is True


def test_created_function_without_the_pillow_layer_fails_like_aws(lam):
    lam.create_function(
        FunctionName="NoLayer",
        Runtime="python3.12",
        Handler="lambda_function.lambda_handler",
        Role="arn:aws:iam::123456789012:role/ImageResizeLambdaRole",
        Code={"ZipFile": _zip(HANDLER_FILES)},
    )
    response = lam.invoke(FunctionName="NoLayer", Payload=b"{}")
    payload = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"] == "Unable to import module 'lambda_function': No module named 'PIL'"


def test_created_function_with_a_layer_runs_and_sees_boto3_from_the_runtime(sb, lam, tmp_path):
    # A layer with this interpreter's Pillow under python/ (the local twin of the Lambda layer).
    pil_dir = Path(PIL.__file__).parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in pil_dir.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, "python/PIL/" + path.relative_to(pil_dir).as_posix())
        for libs in pil_dir.parent.glob("pillow.libs"):
            for path in libs.rglob("*"):
                archive.write(path, "python/pillow.libs/" + path.relative_to(libs).as_posix())
    layer = lam.publish_layer_version(
        LayerName="pillow", Content={"ZipFile": buffer.getvalue()}, CompatibleRuntimes=["python3.12"]
    )
    lam.create_function(
        FunctionName="WithLayer",
        Runtime="python3.12",
        Handler="lambda_function.lambda_handler",
        Role="arn:aws:iam::123456789012:role/ImageResizeLambdaRole",
        Layers=[layer["LayerVersionArn"]],
        Code={"ZipFile": _zip(HANDLER_FILES)},
    )
    sb.s3.upload_file(str(SAMPLES / "test.jpg"), "source-image-bucket123", "layer-test.jpg")
    event = {
        "Records": [
            {
                "s3": {"bucket": {"name": "source-image-bucket123"}, "object": {"key": "layer-test.jpg"}},
                "eventName": "ObjectCreated:Put",
            }
        ]
    }
    response = lam.invoke(FunctionName="WithLayer", Payload=json.dumps(event))
    assert "FunctionError" not in response, response["Payload"].read()
    body = json.loads(json.loads(response["Payload"].read())["body"])
    assert body["results"][0]["status"] == "resized"
    lam.delete_function(FunctionName="WithLayer")
    assert sb.runtime("WithLayer") is None


def test_invoking_an_unknown_function_is_resource_not_found(lam):
    with pytest.raises(ClientError) as error:
        lam.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_reserved_concurrency_is_readable_and_settable_through_the_api(sb, lam):
    assert (
        lam.get_function_concurrency(FunctionName="ImageResizeLambda")["ReservedConcurrentExecutions"] == 10
    )
    lam.put_function_concurrency(FunctionName="ImageResizeLambda", ReservedConcurrentExecutions=3)
    assert sb.function.reserved_concurrency == 3
    assert lam.get_function_concurrency(FunctionName="ImageResizeLambda")["ReservedConcurrentExecutions"] == 3
