"""lambda_function.lambda_handler's record logic, with a small fake S3 client in place of boto3's.

The same handler is exercised through a real moto endpoint by tests/integration/handler/test_pipeline.py;
here every error S3 can return is easy to produce, and nothing needs a server.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from PIL import Image

from helpers import images as fx
from helpers.paths import EVENTS, HANDLER_DIR

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
import image_resize  # handler/ is on sys.path (pytest's pythonpath), as in Lambda
import lambda_function
import settings as handler_settings

SOURCE, DEST = "source-image-bucket123", "resized-image-bucket123"
EVENT_TEMPLATE = json.loads((EVENTS / "s3-put.json").read_text())["Records"][0]


def client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} (fake)"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class FakeBody:
    def __init__(self, data: bytes, error: Exception | None = None):
        self._data, self._error, self.closed = data, error, False

    def read(self):
        if self._error:
            raise self._error
        return self._data

    def close(self):
        self.closed = True


class FakeS3:
    """The two calls the handler makes, over a dict; errors can be planted per key."""

    def __init__(self):
        self.objects: dict[tuple[str, str], dict] = {}
        self.get_errors: dict[str, Exception] = {}
        self.read_errors: dict[str, Exception] = {}
        self.put_errors: dict[str, Exception] = {}
        self.gets: list[tuple[str, str]] = []
        self.puts: list[dict] = []

    def add(self, bucket, key, data, metadata=None):
        self.objects[(bucket, key)] = {"Body": data, "Metadata": metadata or {}}

    def get_object(self, Bucket, Key):
        self.gets.append((Bucket, Key))
        if Key in self.get_errors:
            raise self.get_errors[Key]
        if (Bucket, Key) not in self.objects:
            raise client_error("NoSuchKey", 404, "GetObject")
        obj = self.objects[(Bucket, Key)]
        return {
            "Body": FakeBody(obj["Body"], self.read_errors.get(Key)),
            "ContentLength": len(obj["Body"]),
            "Metadata": dict(obj["Metadata"]),
            "ContentType": "application/octet-stream",
        }

    def put_object(self, Bucket, Key, Body, ContentType, Metadata=None, **extra):
        if Key in self.put_errors:
            raise self.put_errors[Key]
        self.puts.append(
            {
                "Bucket": Bucket,
                "Key": Key,
                "Body": Body,
                "ContentType": ContentType,
                "Metadata": Metadata or {},
                **extra,
            }
        )
        self.objects[(Bucket, Key)] = {"Body": Body, "Metadata": Metadata or {}}


def record(
    key: str, bucket: str = SOURCE, event_name: str = "ObjectCreated:Put", size: int | None = None
) -> dict:
    """An S3 record shaped like AWS's, with the key form-encoded as S3 does it."""
    from urllib.parse import quote_plus

    rec = copy.deepcopy(EVENT_TEMPLATE)
    rec["eventName"] = event_name
    rec["s3"]["bucket"]["name"] = bucket
    rec["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    rec["s3"]["object"]["key"] = quote_plus(key, safe="/")
    if size is None:
        rec["s3"]["object"].pop("size", None)
    else:
        rec["s3"]["object"]["size"] = size
    return rec


def event(*records) -> dict:
    return {"Records": list(records)}


def jpeg(size=(64, 48)) -> bytes:
    return fx.encode(fx.card_image(*size), "JPEG")


def progressive_header_only(width: int, height: int) -> bytes:
    """A progressive 4:4:4 JPEG cut after its first scan header, declaring ``width x height``: a
    memory refusal from it proves the check ran before any decoding (decoding would fail)."""
    import struct

    full = fx.encode(Image.new("RGB", (16, 16), "grey"), "JPEG", progressive=True, subsampling=0)
    sos = full.index(b"\xff\xda")
    head = bytearray(full[: sos + 2 + struct.unpack(">H", full[sos + 2 : sos + 4])[0]])
    sof = head.index(b"\xff\xc2")
    head[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(head)


@pytest.fixture
def s3(monkeypatch):
    fake = FakeS3()
    monkeypatch.setattr(lambda_function, "s3", fake)
    # The handler weighs each image against what its process holds; the test process holds far more
    # than a Lambda worker (pytest, moto, ...), so it plays a fresh execution environment instead.
    monkeypatch.setattr(
        lambda_function, "memory_in_use", lambda: image_resize.RUNTIME_BASELINE_MB * image_resize.MIB
    )
    return fake


@pytest.fixture
def configure(monkeypatch):
    """Replace the handler's settings as if the function had these environment variables."""

    def apply(**env):
        monkeypatch.setattr(lambda_function, "SETTINGS", lambda_function.Settings(env))
        return lambda_function.SETTINGS

    apply()
    return apply


def body_of(response) -> dict:
    assert response["statusCode"] == 200
    return json.loads(response["body"])


# -------------------------------------------------------------------------------------- the happy path


def test_uploading_test_jpg_writes_resized_test_jpg_half_size_with_content_type(s3, configure):
    s3.add(SOURCE, "test.jpg", jpeg((640, 480)))
    body = body_of(lambda_function.lambda_handler(event(record("test.jpg")), None))
    [put] = s3.puts
    assert (put["Bucket"], put["Key"], put["ContentType"]) == (DEST, "resized-test.jpg", "image/jpeg")
    assert Image.open(io.BytesIO(put["Body"])).size == (320, 240)
    assert body["results"][0]["status"] == "resized"
    assert body["results"][0]["outputKey"] == "resized-test.jpg"


def test_every_record_of_the_event_is_processed(s3, configure):
    keys = ["a.jpg", "b.jpg", "c.jpg"]
    for key in keys:
        s3.add(SOURCE, key, jpeg())
    body = body_of(lambda_function.lambda_handler(event(*[record(k) for k in keys]), None))
    assert [p["Key"] for p in s3.puts] == [f"resized-{k}" for k in keys]
    assert body["records"] == 3 and body["resized"] == 3


@pytest.mark.parametrize("key", ["photos/a b.jpg", "a+b.jpg", "café/été 2026.jpg", "x=1&y@2:3.jpg"])
def test_key_with_space_or_special_characters_is_decoded_from_the_record(s3, configure, key):
    s3.add(SOURCE, key, jpeg())
    lambda_function.lambda_handler(event(record(key)), None)
    assert s3.gets == [(SOURCE, key)]
    assert s3.puts[0]["Key"] == "resized-" + key


def test_bucket_is_taken_from_each_record(s3, configure):
    s3.add("another-bucket", "x.jpg", jpeg())
    lambda_function.lambda_handler(event(record("x.jpg", bucket="another-bucket")), None)
    assert s3.gets == [("another-bucket", "x.jpg")]
    assert s3.puts[0]["Bucket"] == DEST


def test_destination_bucket_and_prefix_come_from_the_environment(s3, configure):
    configure(DESTINATION_BUCKET="thumbs", OUTPUT_KEY_PREFIX="small/")
    s3.add(SOURCE, "test.jpg", jpeg())
    lambda_function.lambda_handler(event(record("test.jpg")), None)
    assert (s3.puts[0]["Bucket"], s3.puts[0]["Key"]) == ("thumbs", "small/test.jpg")


def test_output_key_adds_the_extension_of_the_bytes_but_test_jpg_stays_jpg(s3, configure):
    s3.add(SOURCE, "scan.tiff", fx.encode(fx.card_image(), "TIFF"))
    s3.add(SOURCE, "test.jpg", jpeg())
    s3.add(SOURCE, "IMG_1.JPG", jpeg())
    lambda_function.lambda_handler(event(record("scan.tiff"), record("test.jpg"), record("IMG_1.JPG")), None)
    assert [(p["Key"], p["ContentType"]) for p in s3.puts] == [
        ("resized-scan.tiff.jpg", "image/jpeg"),
        ("resized-test.jpg", "image/jpeg"),
        ("resized-IMG_1.JPG", "image/jpeg"),
    ]


def test_png_output_format_setting_changes_key_and_content_type(s3, configure):
    configure(OUTPUT_FORMAT="PNG")
    s3.add(SOURCE, "test.jpg", jpeg())
    lambda_function.lambda_handler(event(record("test.jpg")), None)
    assert (s3.puts[0]["Key"], s3.puts[0]["ContentType"]) == ("resized-test.jpg.png", "image/png")
    assert Image.open(io.BytesIO(s3.puts[0]["Body"])).format == "PNG"


def test_two_sources_differing_only_in_extension_get_two_outputs(s3, configure):
    s3.add(SOURCE, "hopper.jpg", jpeg())
    s3.add(SOURCE, "hopper.png", fx.encode(fx.card_image(), "PNG"))
    lambda_function.lambda_handler(event(record("hopper.jpg"), record("hopper.png")), None)
    assert [p["Key"] for p in s3.puts] == ["resized-hopper.jpg", "resized-hopper.png.jpg"]


def test_image_too_large_for_the_memory_is_rejected_naming_the_key_and_the_memory_to_choose(
    s3, configure, caplog
):
    # a progressive 4:4:4 JPEG declaring 4800x3600: libjpeg would keep 99 MB of coefficients
    s3.add(SOURCE, "big photo.jpg", progressive_header_only(4800, 3600))
    with caplog.at_level(logging.ERROR):
        body = body_of(lambda_function.lambda_handler(event(record("big photo.jpg")), None))
    result = body["results"][0]
    assert (result["status"], result["kind"]) == ("rejected", "too-large")
    assert "memory size to at least 192 MB" in result["reason"]
    line = next(r.getMessage() for r in caplog.records if "big photo.jpg" in r.getMessage())
    assert "s3://source-image-bucket123/big photo.jpg" in line and "at least 192 MB" in line
    assert s3.puts == []


def test_resize_is_logged_at_info_through_the_root_logger(s3, configure, caplog):
    s3.add(SOURCE, "test.jpg", jpeg())
    with caplog.at_level(logging.INFO):
        lambda_function.lambda_handler(event(record("test.jpg")), None)
    [line] = [r for r in caplog.records if "Resized" in r.getMessage()]
    assert line.name == "root" and line.levelno == logging.INFO
    assert "s3://source-image-bucket123/test.jpg" in line.getMessage()
    assert "resized-test.jpg" in line.getMessage()


# ------------------------------------------------------------------------------------ permanent errors


def test_not_an_image_is_logged_with_key_and_reason_and_not_raised(s3, configure, caplog):
    s3.add(SOURCE, "notes.jpg", b"this is stuff")
    s3.add(SOURCE, "good.jpg", jpeg())
    with caplog.at_level(logging.INFO):
        body = body_of(lambda_function.lambda_handler(event(record("notes.jpg"), record("good.jpg")), None))
    bad, good = body["results"]
    assert bad["status"] == "rejected" and bad["kind"] == "not-an-image"
    assert good["status"] == "resized"
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "notes.jpg" in error.getMessage() and "not an image" in error.getMessage()
    assert [p["Key"] for p in s3.puts] == ["resized-good.jpg"]


@pytest.mark.parametrize(
    "data, kind",
    [
        (b"", "not-an-image"),
        (jpeg()[:200], "corrupt"),
        (fx.png_header_only(100_000, 100_000), "too-large"),
        (fx.encode(Image.new("RGB", (8, 8)), "ICO"), "unsupported"),
    ],
)
def test_each_kind_of_bad_image_is_a_permanent_rejection(s3, configure, data, kind):
    s3.add(SOURCE, "bad.jpg", data)
    body = body_of(lambda_function.lambda_handler(event(record("bad.jpg")), None))
    assert body["results"][0]["status"] == "rejected"
    assert body["results"][0]["kind"] == kind
    assert body["results"][0]["reason"].endswith(".")
    assert s3.puts == []


def test_object_deleted_before_processing_is_permanent(s3, configure, caplog):
    with caplog.at_level(logging.ERROR):
        body = body_of(lambda_function.lambda_handler(event(record("gone.jpg")), None))
    assert body["results"][0]["status"] == "rejected"
    assert "no longer exists" in body["results"][0]["reason"]
    assert "gone.jpg" in caplog.text


def test_access_denied_is_permanent_and_names_the_missing_permission(s3, configure):
    s3.add(SOURCE, "a.jpg", jpeg())
    s3.put_errors["resized-a.jpg"] = client_error("AccessDenied", 403, "PutObject")
    body = body_of(lambda_function.lambda_handler(event(record("a.jpg")), None))
    assert "s3:PutObject" in body["results"][0]["reason"]
    assert f"arn:aws:s3:::{DEST}/*" in body["results"][0]["reason"]


def test_object_larger_than_max_input_bytes_is_refused_before_download(s3, configure):
    configure(MAX_INPUT_BYTES="1000")
    s3.add(SOURCE, "big.jpg", jpeg((400, 300)))
    body = body_of(lambda_function.lambda_handler(event(record("big.jpg", size=5_000_000)), None))
    assert s3.gets == []
    assert "MAX_INPUT_BYTES" in body["results"][0]["reason"]
    # without a size in the record (a hand-written test event) the response's ContentLength decides
    body = body_of(lambda_function.lambda_handler(event(record("big.jpg")), None))
    assert body["results"][0]["status"] == "rejected" and s3.puts == []


def test_event_without_records_gets_a_400_explaining_what_is_expected(s3, configure):
    for empty in ({}, {"Records": []}, {"key1": "value1"}, []):
        response = lambda_function.lambda_handler(empty, None)
        assert response["statusCode"] == 400
        assert "S3 event" in json.loads(response["body"])["error"]


def test_malformed_record_is_rejected_and_others_still_processed(s3, configure):
    s3.add(SOURCE, "ok.jpg", jpeg())
    body = body_of(lambda_function.lambda_handler(event({"eventSource": "aws:sqs"}, record("ok.jpg")), None))
    assert [r["status"] for r in body["results"]] == ["rejected", "resized"]


def test_object_removed_event_is_skipped(s3, configure):
    body = body_of(
        lambda_function.lambda_handler(event(record("x.jpg", event_name="ObjectRemoved:Delete")), None)
    )
    assert body["results"][0]["status"] == "skipped" and s3.gets == []


# ------------------------------------------------------------------------------------ transient errors


@pytest.mark.parametrize(
    "where, error",
    [
        ("get", client_error("SlowDown", 503, "GetObject")),
        ("get", client_error("InternalError", 500, "GetObject")),
        ("get", client_error("ServiceUnavailable", 503, "GetObject")),
        ("get", EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")),
        ("read", ReadTimeoutError(endpoint_url="http://127.0.0.1:4566")),
        ("put", client_error("RequestTimeout", 400, "PutObject")),
        ("put", client_error("SlowDown", 503, "PutObject")),
    ],
    ids=[
        "get-slowdown",
        "get-internal",
        "get-unavailable",
        "get-connection",
        "read-timeout",
        "put-timeout",
        "put-slowdown",
    ],
)
def test_transient_error_raises_after_the_other_records_so_lambda_retries(
    s3, configure, where, error, caplog
):
    s3.add(SOURCE, "flaky.jpg", jpeg())
    s3.add(SOURCE, "fine.jpg", jpeg())
    {"get": s3.get_errors, "read": s3.read_errors}.get(where, s3.put_errors)[
        "resized-flaky.jpg" if where == "put" else "flaky.jpg"
    ] = error
    with caplog.at_level(logging.INFO), pytest.raises(lambda_function.RetryableEventError) as raised:
        lambda_function.lambda_handler(event(record("flaky.jpg"), record("fine.jpg")), None)
    assert [p["Key"] for p in s3.puts] == ["resized-fine.jpg"]  # the other record was still done
    assert "flaky.jpg" in str(raised.value) and "retr" in str(raised.value)
    assert raised.value.__cause__ is error


def test_object_whose_bytes_alone_would_not_fit_is_refused_before_download(s3, configure, monkeypatch):
    configure(MAX_INPUT_BYTES=str(200 * 1024 * 1024))
    monkeypatch.setattr(lambda_function, "memory_in_use", lambda: 120 * image_resize.MIB)
    s3.add(SOURCE, "huge.jpg", b"\xff\xd8" + bytes(9 * image_resize.MIB))
    s3.read_errors["huge.jpg"] = AssertionError("the body was read")  # would fail the record
    body = body_of(lambda_function.lambda_handler(event(record("huge.jpg")), None))
    result = body["results"][0]
    assert (result["status"], result["kind"]) == ("rejected", "too-large")
    assert "was not downloaded" in result["reason"] and "at least 192 MB" in result["reason"]
    assert s3.puts == []


def test_unexpected_bug_is_raised_after_the_other_records(s3, configure, monkeypatch):
    s3.add(SOURCE, "a.jpg", jpeg())
    s3.add(SOURCE, "b.jpg", jpeg())
    real = lambda_function.resize_image

    def broken(data, settings, **options):
        if broken.calls == 0:
            broken.calls += 1
            raise KeyError("bug")
        return real(data, settings, **options)

    broken.calls = 0
    monkeypatch.setattr(lambda_function, "resize_image", broken)
    with pytest.raises(lambda_function.RetryableEventError):
        lambda_function.lambda_handler(event(record("a.jpg"), record("b.jpg")), None)
    assert [p["Key"] for p in s3.puts] == ["resized-b.jpg"]


# ------------------------------------------------------------------------------------------ loop guard


def test_same_bucket_outputs_are_never_processed_again(s3, configure, caplog):
    configure(DESTINATION_BUCKET=SOURCE)
    s3.add(SOURCE, "test.jpg", jpeg())
    lambda_function.lambda_handler(event(record("test.jpg")), None)
    assert s3.puts[0]["Bucket"] == SOURCE and s3.puts[0]["Key"] == "resized-test.jpg"
    # S3 now notifies the function about its own output
    with caplog.at_level(logging.INFO):
        body = body_of(lambda_function.lambda_handler(event(record("resized-test.jpg")), None))
    assert body["results"][0]["status"] == "skipped"
    assert len(s3.puts) == 1 and s3.gets == [(SOURCE, "test.jpg")]
    [skip] = [r for r in caplog.records if "loop guard" in r.getMessage()]
    assert skip.levelno == logging.INFO and "resized-test.jpg" in skip.getMessage()


def test_same_bucket_output_is_recognised_by_its_metadata_even_after_a_prefix_change(s3, configure):
    configure(DESTINATION_BUCKET=SOURCE)
    s3.add(SOURCE, "test.jpg", jpeg())
    lambda_function.lambda_handler(event(record("test.jpg")), None)
    configure(DESTINATION_BUCKET=SOURCE, OUTPUT_KEY_PREFIX="thumb-")
    body = body_of(lambda_function.lambda_handler(event(record("resized-test.jpg")), None))
    assert body["results"][0]["status"] == "skipped" and len(s3.puts) == 1


def test_prefixed_keys_in_a_separate_source_bucket_are_still_resized(s3, configure):
    s3.add(SOURCE, "resized-by-hand.jpg", jpeg())
    lambda_function.lambda_handler(event(record("resized-by-hand.jpg")), None)
    assert s3.puts[0]["Key"] == "resized-resized-by-hand.jpg"


def test_empty_prefix_into_the_source_bucket_is_refused_rather_than_overwriting(s3, configure):
    configure(DESTINATION_BUCKET=SOURCE, OUTPUT_KEY_PREFIX="")
    s3.add(SOURCE, "test.jpg", jpeg())
    body = body_of(lambda_function.lambda_handler(event(record("test.jpg")), None))
    assert body["results"][0]["status"] == "rejected" and s3.puts == []


def test_source_object_is_never_written(s3, configure):
    original = jpeg()
    s3.add(SOURCE, "test.jpg", original)
    configure(DESTINATION_BUCKET=SOURCE)
    lambda_function.lambda_handler(event(record("test.jpg")), None)
    assert all(p["Key"] != "test.jpg" for p in s3.puts)
    assert s3.objects[(SOURCE, "test.jpg")]["Body"] == original


# ----------------------------------------------------------------------------- INIT and deployability


def run_handler_import(env: dict, code: str = "import lambda_function") -> subprocess.CompletedProcess:
    """Import the handler in a fresh interpreter, from its own folder, as Lambda's INIT phase does."""
    settings = (
        "DESTINATION_BUCKET",
        "OUTPUT_",
        "RESIZE_",
        "MAX_",
        "RESAMPLING_",
        "BACKGROUND_",
        "AWS_LAMBDA_",
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(settings)}
    full_env.update({"AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(HANDLER_DIR)}, **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=HANDLER_DIR.parent.parent,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "name, value",
    [("RESIZE_SCALE", "2"), ("OUTPUT_FORMAT", "gif"), ("MAX_INPUT_BYTES", "0"), ("OUTPUT_QUALITY", "best")],
)
def test_bad_setting_fails_the_init_with_a_message_naming_it(name, value):
    result = run_handler_import({name: value})
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ValueError: " + name) and repr(value) in last_line


def test_handler_deploys_alone_importing_only_boto3_pillow_and_the_standard_library():
    code = (
        "import sys, lambda_function; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('sandbox', 'web', 'moto', 'flask', 'handler', 'numpy')))"
    )
    result = run_handler_import({}, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_settings_summary_lists_the_documented_variables():
    documented = [setting["name"] for setting in handler_settings.SETTINGS]
    assert sorted(lambda_function.SETTINGS.as_dict()) == sorted(documented)


def test_the_settings_tables_defaults_are_the_image_steps_defaults():
    # One table (settings.py) gives the handler its defaults; the image step's own defaults, used by
    # notebooks and tests that call resize_image directly, must say the same.
    assert lambda_function.Settings({}).resize == image_resize.ResizeSettings()
    assert lambda_function.Settings({}).as_dict()["DESTINATION_BUCKET"] == DEST
