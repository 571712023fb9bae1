"""The whole path: any S3 client's upload runs the unchanged handler in a Lambda-like environment."""

import io
import json

import requests
from aws_lambda_powertools.utilities.parser.models import S3Model
from PIL import Image

from helpers.aws_cli import aws_cli_with
from helpers.paths import SAMPLES
from sandbox.event_sources.s3.source import s3_object

SOURCE, DEST = "source-image-bucket123", "resized-image-bucket123"


def _image_bytes(size=(640, 480), fmt="JPEG", color=(200, 80, 40)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def _resized(sandbox, key):
    body = sandbox.s3.get_object(Bucket=DEST, Key=key)["Body"].read()
    return Image.open(io.BytesIO(body))


def _aws(env, *args):
    return aws_cli_with(env)(*args, timeout=120)


def test_uploading_test_jpg_produces_half_size_resized_test_jpg(sandbox):
    sandbox.s3.upload_file(str(SAMPLES / "test.jpg"), SOURCE, "test.jpg")
    record = sandbox.wait_for_key("test.jpg")
    assert record is not None and record.status == "success", record and record.result
    original = Image.open(SAMPLES / "test.jpg")
    resized = _resized(sandbox, "resized-test.jpg")
    assert resized.size == (original.width // 2, original.height // 2)
    assert resized.format == "JPEG"


def test_event_the_handler_received_passes_s3model_with_the_writes_details(sandbox):
    body = _image_bytes()
    response = sandbox.s3.put_object(Bucket=SOURCE, Key="model check.jpg", Body=body)
    record = sandbox.wait_for_key("model check.jpg")
    S3Model(**record.event)
    s3_record = record.event["Records"][0]
    assert s3_record["eventName"] == "ObjectCreated:Put"
    assert s3_record["s3"]["object"]["key"] == "model+check.jpg"
    assert s3_record["s3"]["object"]["size"] == len(body)
    assert s3_record["s3"]["object"]["eTag"] == response["ETag"].strip('"')
    assert s3_record["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    # the client saw the same request id that the event carries, as with S3
    assert (
        response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
        == s3_record["responseElements"]["x-amz-request-id"]
    )


def test_key_with_space_plus_and_unicode_reaches_handler_decoded(sandbox):
    key = "albums/summer 2026/a+b café.jpg"
    sandbox.s3.put_object(Bucket=SOURCE, Key=key, Body=_image_bytes())
    record = sandbox.wait_for_key(key)
    assert record.status == "success"
    assert record.event["Records"][0]["s3"]["object"]["key"] == "albums/summer+2026/a%2Bb+caf%C3%A9.jpg"
    assert _resized(sandbox, "resized-" + key).size == (320, 240)


def test_multipart_upload_fires_one_complete_multipart_upload_event(sandbox):
    from boto3.s3.transfer import TransferConfig

    data = _image_bytes((4000, 3000), "BMP")  # ~36 MB: several parts at 8 MB
    config = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
    sandbox.s3.upload_fileobj(io.BytesIO(data), SOURCE, "big.bmp", Config=config)
    record = sandbox.wait_for_key("big.bmp", timeout=60)
    events = [r for r in sandbox.invocations() if s3_object(r) == (SOURCE, "big.bmp")]
    assert len({r.request_id for r in events}) == 1
    assert record.event["Records"][0]["eventName"] == "ObjectCreated:CompleteMultipartUpload"
    assert record.event["Records"][0]["s3"]["object"]["size"] == len(data)


def test_copy_object_fires_copy_event(sandbox):
    sandbox.s3.put_object(Bucket=DEST, Key="to-copy.jpg", Body=_image_bytes())
    sandbox.s3.copy_object(Bucket=SOURCE, Key="copied.jpg", CopySource={"Bucket": DEST, "Key": "to-copy.jpg"})
    record = sandbox.wait_for_key("copied.jpg")
    assert record.event["Records"][0]["eventName"] == "ObjectCreated:Copy"
    assert record.status == "success"


def test_presigned_post_from_a_browser_form_fires_post_event(sandbox):
    post = sandbox.s3.generate_presigned_post(SOURCE, "${filename}")
    response = requests.post(
        post["url"],
        data=post["fields"],
        files={"file": ("posted photo.jpg", _image_bytes(), "image/jpeg")},
        timeout=10,
    )
    assert response.status_code in (200, 201, 204), response.text
    record = sandbox.wait_for_key("posted photo.jpg")
    assert record is not None
    assert record.event["Records"][0]["eventName"] == "ObjectCreated:Post"
    S3Model(**record.event)


def test_aws_cli_upload_and_notification_configuration_are_visible(sandbox, aws_env, tmp_path):
    config = _aws(aws_env, "s3api", "get-bucket-notification-configuration", "--bucket", SOURCE)
    assert config.returncode == 0, config.stderr
    lambda_configs = json.loads(config.stdout)["LambdaFunctionConfigurations"]
    assert lambda_configs[0]["Events"] == ["s3:ObjectCreated:*"]
    assert lambda_configs[0]["LambdaFunctionArn"].endswith(":function:ImageResizeLambda")
    upload = _aws(aws_env, "s3", "cp", str(SAMPLES / "test.jpg"), f"s3://{SOURCE}/cli/test.jpg")
    assert upload.returncode == 0, upload.stderr
    assert sandbox.wait_for_key("cli/test.jpg").status == "success"
    listing = _aws(aws_env, "s3", "ls", f"s3://{DEST}/resized-cli/")
    assert "test.jpg" in listing.stdout


def test_cloudwatch_logs_have_start_end_report_and_init_only_on_first_invocation(sandbox, aws_env):
    sandbox.s3.put_object(Bucket=SOURCE, Key="logs-1.jpg", Body=_image_bytes())
    first = sandbox.wait_for_key("logs-1.jpg")
    sandbox.s3.put_object(Bucket=SOURCE, Key="logs-2.jpg", Body=_image_bytes())
    second = sandbox.wait_for_key("logs-2.jpg")
    sandbox.logs.flush()
    result = _aws(aws_env, "logs", "filter-log-events", "--log-group-name", "/aws/lambda/ImageResizeLambda")
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout)["events"]
    by_request = {}
    for event in events:
        for record in (first, second):
            if record.request_id in event["message"]:
                by_request.setdefault(record.request_id, []).append(event)
    for record in (first, second):
        lines = [e["message"] for e in by_request[record.request_id]]
        assert any(line == f"START RequestId: {record.request_id} Version: $LATEST" for line in lines)
        assert any(line == f"END RequestId: {record.request_id}" for line in lines)
        [report] = [line for line in lines if line.startswith("REPORT")]
        assert report.endswith("\t")
        assert "\tBilled Duration: " in report and "\tMemory Size: 128 MB\t" in report
        assert "Max Memory Used: " in report
        assert any(line.startswith("[INFO]\t") and f"\t{record.request_id}\t" in line for line in lines)
        stream = by_request[record.request_id][0]["logStreamName"]
        assert stream.split("]")[0].endswith("[$LATEST") and len(stream.split("]")[1]) == 32
    # Init Duration appears on an environment's first invocation only
    reports = [e for e in sandbox.log_events(contains="REPORT RequestId")]
    first_per_stream = {}
    for event in reports:
        first_per_stream.setdefault(event.stream, event)
    for event in reports:
        has_init = "Init Duration:" in event.message
        assert has_init == (first_per_stream[event.stream] is event), event.message


def test_not_an_image_is_rejected_clearly_and_the_next_upload_works(sandbox):
    sandbox.s3.put_object(Bucket=SOURCE, Key="notes.jpg", Body=b"this is not an image")
    record = sandbox.wait_for_key("notes.jpg")
    assert record.status == "success"  # a permanent failure is reported, not retried
    body = json.loads(record.result["body"])
    assert body["results"][0]["status"] == "rejected"
    errors = sandbox.log_events(request_id=record.request_id, contains="notes.jpg")
    assert any(e.kind == "error" for e in errors)
    assert sandbox.s3.get_object(Bucket=SOURCE, Key="notes.jpg")["Body"].read() == b"this is not an image"
    sandbox.s3.put_object(Bucket=SOURCE, Key="after-bad.jpg", Body=_image_bytes())
    assert sandbox.wait_for_key("after-bad.jpg").status == "success"


def test_suffix_filter_set_through_the_s3_api_applies_to_the_next_write(sandbox):
    s3 = sandbox.s3
    original = s3.get_bucket_notification_configuration(Bucket=SOURCE)
    original.pop("ResponseMetadata")
    arn = original["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"]
    try:
        s3.put_bucket_notification_configuration(
            Bucket=SOURCE,
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {
                        "Id": "only-png",
                        "LambdaFunctionArn": arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".png"}]}},
                    }
                ]
            },
        )
        s3.put_object(Bucket=SOURCE, Key="filtered-out.jpg", Body=_image_bytes())
        s3.put_object(Bucket=SOURCE, Key="filtered-in.png", Body=_image_bytes(fmt="PNG"))
        record = sandbox.wait_for_key("filtered-in.png")
        assert record.event["Records"][0]["s3"]["configurationId"] == "only-png"
        assert not [r for r in sandbox.invocations() if s3_object(r) == (SOURCE, "filtered-out.jpg")]
    finally:
        s3.put_bucket_notification_configuration(Bucket=SOURCE, NotificationConfiguration=original)


def test_writes_to_other_buckets_do_not_invoke(sandbox):
    before = len(sandbox.invocations())
    sandbox.s3.put_object(Bucket=DEST, Key="direct.jpg", Body=_image_bytes())
    sandbox.s3.put_object(Bucket=SOURCE, Key="marker.jpg", Body=_image_bytes())
    sandbox.wait_for_key("marker.jpg")
    keys = [s3_object(r) for r in sandbox.invocations()[: len(sandbox.invocations()) - before]]
    assert (DEST, "direct.jpg") not in keys
