"""The guide's handler as the guide writes it (examples/guide), through a real sandbox: it resizes test.jpg,
and it shows the defects examples/guide/README.md lists, next to the project's handler that has none."""

import io
import zipfile
from pathlib import Path

import PIL
import pytest
from PIL import Image

from helpers.paths import PROJECT_ROOT, SAMPLES
from helpers.sandboxes import start_sandbox

SOURCE, DEST = "source-image-bucket123", "resized-image-bucket123"
GUIDE = PROJECT_ROOT / "examples" / "guide"


@pytest.fixture(scope="module")
def guide_sandbox():
    """`python run_local.py --code-dir examples/guide`: the guide's 22 lines as ImageResizeLambda."""
    sb = start_sandbox(GUIDE)
    yield sb
    sb.stop()


def _resized(sb, key):
    return Image.open(io.BytesIO(sb.s3.get_object(Bucket=DEST, Key=key)["Body"].read()))


def _keys(sb, bucket):
    return {obj["Key"] for obj in sb.s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_the_guides_handler_resizes_test_jpg_to_half_size(guide_sandbox):
    guide_sandbox.s3.upload_file(str(SAMPLES / "test.jpg"), SOURCE, "test.jpg")
    record = guide_sandbox.wait_for_key("test.jpg")
    assert record.status == "success" and record.result["statusCode"] == 200
    assert _resized(guide_sandbox, "resized-test.jpg").size == (800, 600)


def _zip(files: dict[str, Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in files.items():
            archive.write(path, name)
    return buffer.getvalue()


def _deploy_the_projects_handler(sb) -> None:
    """handler/ as `run_local.py package` zips it, with this interpreter's Pillow as its layer (the local
    twin of pillow-layer.zip), through the Lambda API as `aws lambda update-function-code` does."""
    lam = sb.client("lambda")
    pil = Path(PIL.__file__).parent
    layer_files = {
        "python/PIL/" + p.relative_to(pil).as_posix(): p
        for p in pil.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    for libs in pil.parent.glob("pillow.libs"):
        layer_files.update(
            {"python/pillow.libs/" + p.relative_to(libs).as_posix(): p for p in libs.rglob("*")}
        )
    layer = lam.publish_layer_version(
        LayerName="pillow", Content={"ZipFile": _zip(layer_files)}, CompatibleRuntimes=["python3.12"]
    )
    code = {p.name: p for p in sorted((PROJECT_ROOT / "handler").glob("*.py"))}
    lam.update_function_code(FunctionName="ImageResizeLambda", ZipFile=_zip(code))
    lam.update_function_configuration(FunctionName="ImageResizeLambda", Layers=[layer["LayerVersionArn"]])


@pytest.mark.slow  # publishes a Pillow layer and deploys the project's handler
def test_a_key_with_a_space_fails_in_the_guides_handler_and_works_in_the_projects(guide_sandbox):
    sb = guide_sandbox
    # S3 sends 'holiday+photo.jpg'; the guide asks S3 for that key as it stands, which does not exist.
    sb.s3.upload_file(str(SAMPLES / "holiday photo.jpg"), SOURCE, "holiday photo.jpg")
    record = sb.wait_for_key("holiday photo.jpg")
    assert record.result["statusCode"] == 500 and "404" in record.result["body"]
    # The error was returned, not raised: the asynchronous invocation succeeded and is never retried.
    assert record.status == "success" and record.attempt == 1
    assert "resized-holiday photo.jpg" not in _keys(sb, DEST)

    # The same upload once the project's handler is deployed, as with `aws lambda update-function-code`.
    _deploy_the_projects_handler(sb)
    sb.s3.upload_file(str(SAMPLES / "holiday photo.jpg"), SOURCE, "holiday photo 2.jpg")
    record = sb.wait_for_key("holiday photo 2.jpg")
    assert record.status == "success" and record.result["statusCode"] == 200, record.result
    assert _resized(sb, "resized-holiday photo 2.jpg").size == (512, 384)
