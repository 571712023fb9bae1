"""Lambda's validation and limits on the local endpoint, through boto3, the AWS CLI and raw HTTP: names,
handlers, packages (size, zip bombs, zip slip), payload sizes, S3 key length, malformed requests; each
refused with AWS's error code, and nothing changed (no function, no folder, no object)."""

import io
import json
import logging
import os
import subprocess
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from helpers.aws_cli import aws_command
from helpers.sandboxes import start_sandbox

MB = 1024 * 1024
HANDLER = "def handler(event, context):\n    return {'version': %d}\n"


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def lam(sb):
    return sb.client("lambda")


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(zipfile.ZipInfo(name), text)
    return buffer.getvalue()


def _zip_compressed(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _create(sb, lam, name, zip_bytes, handler="app.handler", **extra):
    return lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=sb.function.role_arn,
        Handler=handler,
        Code={"ZipFile": zip_bytes},
        **extra,
    )


def _function_names(lam) -> set[str]:
    return {f["FunctionName"] for f in lam.list_functions()["Functions"]}


def _refused(call, code: str, status: int = 400) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    assert error["Error"]["Code"] == code, error
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    return error["Error"]["Message"]


def _signed(sb, method: str, path: str, body: bytes, service="lambda", headers=None):
    """A raw request signed as the AWS CLI would sign it: (status, headers, body)."""
    env = sb.client_environment()
    from botocore.credentials import Credentials

    request = AWSRequest(
        method=method,
        url=env["AWS_ENDPOINT_URL"] + path,
        data=body,
        headers=dict({"Content-Type": "application/json"}, **(headers or {})),
    )
    SigV4Auth(
        Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]),
        service,
        env["AWS_DEFAULT_REGION"],
    ).add_auth(request)
    prepared = urllib.request.Request(request.url, data=body, method=method, headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _cli(sb, *args, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(sb.client_environment())
    return subprocess.run(
        [*aws_command(), *args], env=env, capture_output=True, text=True, timeout=60, cwd=cwd
    )


# -- function names and handlers -------------------------------------------------------------------------


def _escaping_names(tmp_path: Path) -> list[tuple[str, Path]]:
    """Names that would unpack the code outside the state directory, and where it would have landed."""
    up = "../" * 12
    return [
        (up + str(tmp_path / "dotdot").lstrip("/"), tmp_path / "dotdot"),
        (str(tmp_path / "absolute"), tmp_path / "absolute"),
    ]


def test_a_name_that_escapes_the_code_folder_is_refused_before_anything_is_unpacked(sb, lam, tmp_path):
    before = _function_names(lam)
    for name, landing in _escaping_names(tmp_path):
        message = _refused(
            lambda name=name: _create(sb, lam, name, _zip({"app.py": HANDLER % 1})), "ValidationException"
        )
        assert message.startswith("1 validation error detected: Value ") and "at 'functionName'" in message
        assert "Member must satisfy regular expression pattern" in message
        assert not landing.exists()
    assert _function_names(lam) == before
    assert not list(Path(sb.state_dir).rglob("app.py"))


@pytest.mark.parametrize(
    "call",
    [
        "invoke",
        "update_function_code",
        "delete_function",
        "get_function",
        "update_function_configuration",
        "put_function_concurrency",
    ],
)
def test_every_operation_on_a_function_checks_its_name(lam, call, tmp_path):
    arguments = {
        "invoke": {},
        "update_function_code": {"ZipFile": _zip({"app.py": HANDLER % 1})},
        "delete_function": {},
        "get_function": {},
        "update_function_configuration": {"Timeout": 5},
        "put_function_concurrency": {"ReservedConcurrentExecutions": 1},
    }[call]
    name = "../../../../../../../.." + str(tmp_path / "x")
    message = _refused(lambda: getattr(lam, call)(FunctionName=name, **arguments), "ValidationException")
    assert f"Value '{name}' at 'functionName' failed to satisfy constraint" in message
    assert not (tmp_path / "x").exists()


def test_a_name_longer_than_64_characters_is_refused(sb, lam):
    message = _refused(
        lambda: _create(sb, lam, "f" * 65, _zip({"app.py": HANDLER % 1})), "ValidationException"
    )
    assert "Member must have length less than or equal to 64" in message
    assert "f" * 65 not in _function_names(lam)


@pytest.mark.parametrize(
    "handler, constraint",
    [("app handler", "regular expression pattern: [^\\s]+"), ("a" * 129, "length less than or equal to 128")],
)
def test_a_handler_outside_lambdas_pattern_is_refused(sb, lam, handler, constraint):
    message = _refused(
        lambda: _create(sb, lam, "BadHandler", _zip({"app.py": HANDLER % 1}), handler=handler),
        "ValidationException",
    )
    assert "at 'handler'" in message and constraint in message
    assert "BadHandler" not in _function_names(lam)


def test_the_aws_cli_prints_lambdas_validation_error(sb, tmp_path):
    package = tmp_path / "function.zip"
    package.write_bytes(_zip({"app.py": HANDLER % 1}))
    result = _cli(
        sb,
        "lambda",
        "create-function",
        "--function-name",
        "../../../../tmp/x",
        "--runtime",
        "python3.12",
        "--role",
        sb.function.role_arn,
        "--handler",
        "app.handler",
        "--zip-file",
        f"fileb://{package}",
    )
    assert result.returncode != 0
    assert (
        "An error occurred (ValidationException) when calling the CreateFunction operation: "
        "1 validation error detected: Value '../../../../tmp/x' at 'functionName'"
    ) in result.stderr


# -- deployment packages ---------------------------------------------------------------------------------


def _zip_bomb(path: Path, megabytes: int) -> Path:
    """A small zip holding one highly compressible member of ``megabytes``, written streaming."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("app.py", "w") as member:
            member.write((HANDLER % 1).encode())
        with archive.open("padding.bin", "w") as member:
            block = b"\0" * MB
            for _ in range(megabytes):
                member.write(block)
    return path


@pytest.mark.slow
def test_a_zip_bomb_is_refused_as_too_large_unzipped_and_nothing_is_unpacked(sb, lam, tmp_path):
    bomb = _zip_bomb(tmp_path / "bomb.zip", 300)
    assert bomb.stat().st_size < MB
    message = _refused(lambda: _create(sb, lam, "Bomb", bomb.read_bytes()), "InvalidParameterValueException")
    assert message == "Unzipped size must be smaller than 262144000 bytes"
    assert "Bomb" not in _function_names(lam)
    assert not (Path(sb.state_dir) / "functions" / "Bomb").exists()


def _lying(zip_path: Path, declared: int) -> bytes:
    """The zip with every size field of its one member claiming ``declared`` bytes unzipped."""
    data = bytearray(zip_path.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = declared.to_bytes(4, "little")
    data[central + 24 : central + 28] = declared.to_bytes(4, "little")
    return bytes(data)


@pytest.mark.slow
def test_a_zip_whose_headers_understate_its_size_is_refused_and_leaves_nothing(sb, lam, tmp_path):
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("padding.bin", "w") as member:
            for _ in range(260):
                member.write(b"\0" * MB)
    message = _refused(lambda: _create(sb, lam, "Liar", _lying(path, 1000)), "InvalidParameterValueException")
    assert message == "Could not unzip uploaded file. Please check your file, then try to upload again."
    assert "Liar" not in _function_names(lam)
    assert not list((Path(sb.state_dir) / "functions").glob("Liar*"))


def test_extraction_stops_at_the_limit_whatever_the_headers_say(tmp_path):
    from sandbox.lambda_.packaging.function_zip import PackageRefused, _extract

    path = tmp_path / "big.zip"
    path.write_bytes(_zip({"a.txt": "x" * 5000}))
    with zipfile.ZipFile(path) as archive, pytest.raises(PackageRefused, match="must be smaller than"):
        _extract(archive, archive.infolist(), tmp_path / "out", room=4096, layers_bytes=0)
    assert (tmp_path / "out" / "a.txt").stat().st_size < 4096


@pytest.mark.parametrize("entry", ["../escaped.py", "/tmp/escaped-absolute.py", "lib/../../escaped.py"])
def test_zip_entries_outside_the_task_root_are_refused(sb, lam, entry):
    package = _zip({"app.py": HANDLER % 1, entry: "x = 1\n"})
    message = _refused(lambda: _create(sb, lam, "Slip", package), "InvalidParameterValueException")
    assert message == "Could not unzip uploaded file. Please check your file, then try to upload again."
    assert "Slip" not in _function_names(lam)
    assert not (Path(sb.state_dir) / "functions" / "Slip").exists()
    assert not list(Path(sb.state_dir).parent.glob("escaped*.py"))
    assert not Path("/tmp/escaped-absolute.py").exists()


def test_a_body_that_is_not_a_zip_is_refused_by_boto3_and_the_aws_cli(sb, lam, tmp_path):
    message = _refused(
        lambda: _create(sb, lam, "NotAZip", b"this is not a zip"), "InvalidParameterValueException"
    )
    assert message == "Could not unzip uploaded file. Please check your file, then try to upload again."
    # The AWS CLI itself refuses a file that is not a zip at all; a damaged one reaches Lambda.
    damaged = bytearray(_zip_compressed({"app.py": HANDLER % 1 * 50}))
    damaged[40:60] = b"\xff" * 20
    (tmp_path / "damaged.zip").write_bytes(bytes(damaged))
    result = _cli(
        sb,
        "lambda",
        "create-function",
        "--function-name",
        "NotAZip",
        "--runtime",
        "python3.12",
        "--role",
        sb.function.role_arn,
        "--handler",
        "app.handler",
        "--zip-file",
        f"fileb://{tmp_path / 'damaged.zip'}",
    )
    assert (
        "An error occurred (InvalidParameterValueException) when calling the CreateFunction operation: "
        "Could not unzip uploaded file."
    ) in result.stderr
    assert "NotAZip" not in _function_names(lam)


def test_a_direct_upload_over_50_mb_is_413(sb, lam):
    package = os.urandom(51 * MB)  # incompressible: the base64 request is over Lambda's 70,167,211 bytes
    message = _refused(lambda: _create(sb, lam, "Huge", package), "RequestEntityTooLargeException", 413)
    assert message == "Request must be smaller than 70167211 bytes for the CreateFunction operation"
    assert "Huge" not in _function_names(lam)


def test_code_updates_replace_the_unpacked_folder_and_delete_removes_it(sb, lam):
    _create(sb, lam, "Versions", _zip({"app.py": HANDLER % 1}))
    first = Path(sb.runtime("Versions").function.code_dir)
    assert first.is_dir() and first.is_relative_to(sb.state_dir)
    lam.update_function_code(FunctionName="Versions", ZipFile=_zip({"app.py": HANDLER % 2}))
    second = Path(sb.runtime("Versions").function.code_dir)
    assert second != first and second.is_dir() and not first.exists()
    assert json.loads(lam.invoke(FunctionName="Versions")["Payload"].read()) == {"version": 2}
    _refused(
        lambda: lam.update_function_code(FunctionName="Versions", ZipFile=b"not a zip"),
        "InvalidParameterValueException",
    )
    assert Path(sb.runtime("Versions").function.code_dir) == second and second.is_dir()
    lam.delete_function(FunctionName="Versions")
    assert not second.exists() and not second.parent.exists()
    assert "Versions" not in _function_names(lam)


# -- payloads --------------------------------------------------------------------------------------------


def test_a_synchronous_payload_over_6_mb_is_413(sb, lam):
    before = len(sb.invocations())
    payload = json.dumps({"data": "x" * (7 * MB)}).encode()
    message = _refused(
        lambda: lam.invoke(FunctionName="ImageResizeLambda", Payload=payload),
        "RequestEntityTooLargeException",
        413,
    )
    assert message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    assert len(sb.invocations()) == before


def test_an_asynchronous_payload_over_1_mb_is_413_and_one_under_is_accepted(sb, lam):
    before = len(sb.invocations())
    payload = json.dumps({"data": "x" * (MB + MB // 10)}).encode()
    message = _refused(
        lambda: lam.invoke(FunctionName="ImageResizeLambda", InvocationType="Event", Payload=payload),
        "RequestEntityTooLargeException",
        413,
    )
    assert message == "Request must be smaller than 1048576 bytes for the InvokeFunction operation"
    assert len(sb.invocations()) == before
    _create(sb, lam, "Small", _zip({"app.py": HANDLER % 1}))
    fits = json.dumps({"data": "x" * (MB - 1024)}).encode()
    assert lam.invoke(FunctionName="Small", InvocationType="Event", Payload=fits)["StatusCode"] == 202


# -- S3 keys ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bucket(sb):
    sb.client("s3").create_bucket(Bucket="key-limits")
    return "key-limits"


def _s3_refused(call) -> None:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "KeyTooLongError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _keys(s3, bucket) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_keys_over_1024_bytes_of_utf8_are_refused_by_every_way_of_writing(sb, bucket):
    s3 = sb.client("s3")
    long_key, euro_key = "k" * 1025, "€" * 342  # 342 characters, 1,026 bytes
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"fits")
    _s3_refused(lambda: s3.put_object(Bucket=bucket, Key=long_key, Body=b"x"))
    _s3_refused(lambda: s3.put_object(Bucket=bucket, Key=euro_key, Body=b"x"))
    _s3_refused(
        lambda: s3.copy_object(Bucket=bucket, Key=long_key, CopySource={"Bucket": bucket, "Key": "k" * 1024})
    )
    _s3_refused(lambda: s3.create_multipart_upload(Bucket=bucket, Key=long_key))
    assert _keys(s3, bucket) == ["k" * 1024]
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_a_presigned_post_with_a_key_over_1024_bytes_is_refused(sb, bucket):
    s3 = sb.client("s3")
    post = s3.generate_presigned_post(bucket, "p" * 1025)
    boundary = "----limits"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in post["fields"].items()
    ]
    body = (
        "".join(parts) + f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    ).encode()
    request = urllib.request.Request(
        post["url"],
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400 and b"<Code>KeyTooLongError</Code>" in caught.value.read()
    assert "p" * 1025 not in _keys(s3, bucket)


def test_the_aws_cli_prints_key_too_long(sb, bucket, tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("hello")
    result = _cli(sb, "s3api", "put-object", "--bucket", bucket, "--key", "c" * 1025, "--body", str(source))
    assert (
        "An error occurred (KeyTooLongError) when calling the PutObject operation: Your key is too long"
        in result.stderr
    )


# -- malformed requests ----------------------------------------------------------------------------------


def _create_body(sb, **changes) -> bytes:
    import base64

    request = {
        "FunctionName": "Malformed",
        "Runtime": "python3.12",
        "Role": sb.function.role_arn,
        "Handler": "app.handler",
        "Code": {"ZipFile": base64.b64encode(_zip({"app.py": HANDLER % 1})).decode()},
    }
    return json.dumps(dict(request, **changes)).encode()


@pytest.mark.parametrize(
    "what, body",
    [
        ("not JSON", lambda sb: b"{this is not json"),
        ("bad base64", lambda sb: _create_body(sb, Code={"ZipFile": "!!! not base64 !!!"})),
        ("a numeric name", lambda sb: _create_body(sb, FunctionName=12345)),
        ("Variables as a list", lambda sb: _create_body(sb, Environment={"Variables": ["A=1"]})),
        ("a JSON list", lambda sb: b"[1, 2]"),
    ],
)
def test_a_malformed_create_function_gets_a_400_json_error(sb, lam, what, body):
    status, headers, answer = _signed(sb, "POST", "/2015-03-31/functions", body(sb))
    assert status == 400, answer
    assert headers["Content-Type"] == "application/json"
    assert headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    assert json.loads(answer)["message"].startswith("Could not parse request body into json")
    assert "Malformed" not in _function_names(lam) and "12345" not in _function_names(lam)


def test_malformed_configuration_and_code_updates_get_400_json_errors(sb, lam):
    before = lam.get_function_configuration(FunctionName="ImageResizeLambda")
    function = "/2015-03-31/functions/ImageResizeLambda"
    for path, body in [
        (function + "/configuration", b'{"Environment": {"Variables": []}}'),
        (function + "/configuration", b"nope"),
        (function + "/code", b'{"ZipFile": "%%%"}'),
    ]:
        status, headers, answer = _signed(sb, "PUT", path, body)
        assert (status, headers["x-amzn-ErrorType"]) == (400, "InvalidRequestContentException"), answer
    after = lam.get_function_configuration(FunctionName="ImageResizeLambda")
    assert after["CodeSha256"] == before["CodeSha256"]
    assert after.get("Environment") == before.get("Environment")


def test_an_unexpected_failure_in_the_sandbox_is_a_json_service_exception_logged_once(
    sb, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the sandbox")

    monkeypatch.setattr(sb.service, "log_tail", broken)
    with caplog.at_level(logging.ERROR, logger="sandbox.lambda_.api"):
        status, headers, answer = _signed(
            sb,
            "POST",
            "/2015-03-31/functions/ImageResizeLambda/invocations",
            b"{}",
            headers={"X-Amz-Log-Type": "Tail"},
        )
    assert status == 500 and headers["x-amzn-ErrorType"] == "ServiceException"
    assert headers["Content-Type"] == "application/json" and json.loads(answer)["message"]
    logged = [r for r in caplog.records if r.exc_info and "a bug in the sandbox" in str(r.exc_info[1])]
    assert len(logged) == 1


# -- layers ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_layer_zip_bomb_is_refused_and_no_layer_version_is_stored(sb, lam, tmp_path):
    bomb = _zip_bomb(tmp_path / "layer-bomb.zip", 300)
    publish = lambda: lam.publish_layer_version(LayerName="bomb", Content={"ZipFile": bomb.read_bytes()})
    message = _refused(publish, "InvalidParameterValueException")
    assert message == "Unzipped size must be smaller than 262144000 bytes"
    assert not lam.list_layer_versions(LayerName="bomb").get("LayerVersions")
    assert not (Path(sb.state_dir) / "layers" / "bomb").exists()


@pytest.mark.slow
def test_code_and_layers_together_may_not_pass_250_mb_unzipped(sb, lam, tmp_path):
    layer = lam.publish_layer_version(
        LayerName="heavy", Content={"ZipFile": _zip_bomb(tmp_path / "layer.zip", 130).read_bytes()}
    )["LayerVersionArn"]
    package = _zip_bomb(tmp_path / "function.zip", 130).read_bytes()
    message = _refused(
        lambda: _create(sb, lam, "Heavy", package, Layers=[layer]), "InvalidParameterValueException"
    )
    assert message.startswith(
        "Function code combined with layers exceeds the maximum allowed size of "
        "262144000 bytes. The actual size is "
    )
    assert "Heavy" not in _function_names(lam)
    _create(sb, lam, "Heavy", package)
    message = _refused(
        lambda: lam.update_function_configuration(FunctionName="Heavy", Layers=[layer]),
        "InvalidParameterValueException",
    )
    assert message.startswith("Function code combined with layers exceeds the maximum allowed size")
    assert not lam.get_function_configuration(FunctionName="Heavy").get("Layers")
    lam.delete_function(FunctionName="Heavy")


def test_a_function_running_from_a_folder_of_the_users_keeps_that_folder(sb, tmp_path):
    from sandbox.config import FunctionConfiguration

    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "app.py").write_text(HANDLER % 1)
    sb.service.register(
        FunctionConfiguration(function_name="FromFolder", code_dir=folder, handler="app.handler")
    )
    unpacked = sb.service.prepare_code("FromFolder", _zip({"app.py": HANDLER % 2}))
    sb.service.apply_code("FromFolder", unpacked)
    assert (folder / "app.py").is_file() and unpacked.is_dir()
    sb.service.function_deleted("FromFolder")
    assert not unpacked.exists()
    sb.service.register(
        FunctionConfiguration(function_name="FromFolder", code_dir=folder, handler="app.handler")
    )
    sb.service.function_deleted("FromFolder")
    assert (folder / "app.py").is_file()


def test_the_deprecated_invoke_async_keeps_its_256_kb_limit(sb, lam):
    before = len(sb.invocations())
    message = _refused(
        lambda: lam.invoke_async(
            FunctionName="ImageResizeLambda", InvokeArgs=json.dumps({"data": "x" * (300 * 1024)})
        ),
        "RequestEntityTooLargeException",
        413,
    )
    assert message == "Request must be smaller than 262144 bytes for the InvokeAsync API"
    assert len(sb.invocations()) == before
