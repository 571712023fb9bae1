"""Functions other than the project's handler, through --code-dir and --handler, each in its own sandbox."""

import io

import pytest
from PIL import Image

from helpers.paths import HANDLERS, SAMPLES
from helpers.sandboxes import start_sandbox

SOURCE, DEST = "source-image-bucket123", "resized-image-bucket123"


def _image_bytes(size=(640, 480)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def _resized(sandbox, key):
    return Image.open(io.BytesIO(sandbox.s3.get_object(Bucket=DEST, Key=key)["Body"].read()))


def test_guide_handler_pasted_unmodified_works_through_code_dir():
    sb = start_sandbox(HANDLERS / "guide")
    try:
        sb.s3.upload_file(str(SAMPLES / "test.jpg"), SOURCE, "test.jpg")
        record = sb.wait_for_key("test.jpg")
        assert record.status == "success" and record.result["statusCode"] == 200
        assert _resized(sb, "resized-test.jpg").size == (800, 600)
    finally:
        sb.stop()


@pytest.mark.parametrize(
    "handler, error",
    [
        ("lambda_function.no_such_function", "Runtime.HandlerNotFound"),
        ("missing_module.lambda_handler", "Runtime.ImportModuleError"),
    ],
)
def test_unknown_handler_gives_aws_init_error_and_the_sandbox_keeps_running(handler, error):
    sb = start_sandbox(handler=handler, maximum_retry_attempts=0)  # one attempt: its error is the point
    try:
        sb.s3.put_object(Bucket=SOURCE, Key="x.jpg", Body=_image_bytes())
        record = sb.wait_for_key("x.jpg")
        assert record.error_type == error
        messages = [e.message for e in sb.log_events()]
        assert any(m.startswith(f"[ERROR] {error}: ") for m in messages), messages
        assert any(m.startswith("INIT_REPORT") and f"Error Type: {error}" in m for m in messages)
        assert sb.s3.list_buckets()["Buckets"]  # the endpoint still answers
    finally:
        sb.stop()


def test_import_error_of_the_handlers_own_imports_names_the_module():
    sb = start_sandbox(HANDLERS / "broken_import")
    try:
        record = sb.invoke({})
        assert record.error_type == "Runtime.ImportModuleError"
        assert record.error_message == (
            "Unable to import module 'lambda_function': No module named 'module_that_does_not_exist'"
        )
    finally:
        sb.stop()


def test_a_bad_handler_setting_fails_init_with_one_clear_sentence_and_the_sandbox_keeps_running():
    sb = start_sandbox(environment={"RESIZE_SCALE": "2"}, maximum_retry_attempts=0)
    try:
        sb.s3.put_object(Bucket=SOURCE, Key="x.jpg", Body=_image_bytes())
        record = sb.wait_for_key("x.jpg")
        assert record.error_type == "ValueError"
        assert "RESIZE_SCALE" in record.error_message and "'2'" in record.error_message
        trace = record.result["stackTrace"]
        assert any("image_resize.py" in frame for frame in trace) and not any("importlib" in f for f in trace)
        lines = [e.message for e in sb.log_events()]
        assert any(m.startswith("[ERROR] ValueError: RESIZE_SCALE") for m in lines)
        assert any(m.startswith("INIT_REPORT") and "Error Type: ValueError" in m for m in lines)
        sb.update_function_configuration(environment={"RESIZE_SCALE": "0.25"})
        sb.s3.put_object(Bucket=SOURCE, Key="y.jpg", Body=_image_bytes())
        assert sb.wait_for_key("y.jpg").status == "success"
        assert _resized(sb, "resized-y.jpg").size == (160, 120)
    finally:
        sb.stop()
