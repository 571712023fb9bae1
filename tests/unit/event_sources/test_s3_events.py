"""S3 event records: AWS's shape, AWS's key encoding."""

import json
from urllib.parse import unquote_plus

import pytest
from aws_lambda_powertools.utilities.parser.models import S3Model

from helpers.paths import EVENTS
from sandbox.event_sources.s3.events import (
    S3Write,
    Sequencer,
    build_event,
    event_time_iso,
    form_encode_key,
    new_host_id,
    new_s3_request_id,
    sample_put_event,
)
from sandbox.event_sources.s3.notifications import LambdaTarget, targets_from_configuration


@pytest.mark.parametrize(
    "key, encoded",
    [
        ("test.jpg", "test.jpg"),
        ("holiday photo.jpg", "holiday+photo.jpg"),
        ("a+b.jpg", "a%2Bb.jpg"),
        ("me@home.jpg", "me%40home.jpg"),
        ("12:30.jpg", "12%3A30.jpg"),
        ("x=1.jpg", "x%3D1.jpg"),
        ("photos/2026/a b.jpg", "photos/2026/a+b.jpg"),
        ("café.jpg", "caf%C3%A9.jpg"),
    ],
)
def test_key_is_form_encoded_as_aws_does(key, encoded):
    assert form_encode_key(key) == encoded
    assert unquote_plus(encoded) == key


def _write(**overrides):
    values = dict(
        event_name="ObjectCreated:Put",
        bucket="source-image-bucket123",
        key="holiday photo.jpg",
        size=2048,
        etag="abc123",
        request_id=new_s3_request_id(),
        host_id=new_host_id(),
        source_ip="127.0.0.1",
        principal_id="AWS:AIDAEXAMPLE",
        sequencer=Sequencer().next(),
        event_time=1_800_000_000.25,
    )
    values.update(overrides)
    return S3Write(**values)


def test_put_record_carries_every_field_aws_sends_and_validates_against_s3model():
    event = build_event(_write(), "ImageResizeTrigger")
    S3Model(**event)  # strict, independent model of AWS's record
    record = event["Records"][0]
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"] == {
        "key": "holiday+photo.jpg",
        "size": 2048,
        "eTag": "abc123",
        "sequencer": record["s3"]["object"]["sequencer"],
    }
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::source-image-bucket123"
    assert record["s3"]["configurationId"] == "ImageResizeTrigger"
    assert record["eventTime"] == "2027-01-15T08:00:00.250Z"
    assert len(record["responseElements"]["x-amz-request-id"]) == 16
    assert (
        record["responseElements"]["x-amz-request-id"].upper()
        == record["responseElements"]["x-amz-request-id"]
    )
    assert len(record["responseElements"]["x-amz-id-2"]) == 76


def test_version_id_appears_only_when_versioning_is_on():
    assert "versionId" not in build_event(_write(), "c")["Records"][0]["s3"]["object"]
    assert build_event(_write(version_id="v1"), "c")["Records"][0]["s3"]["object"]["versionId"] == "v1"


def test_delete_record_carries_only_key_and_sequencer():
    obj = build_event(_write(event_name="ObjectRemoved:Delete", size=None, etag=None), "c")["Records"][0][
        "s3"
    ]["object"]
    assert set(obj) == {"key", "sequencer"}


def test_sequencer_orders_events_of_one_key():
    sequencer = Sequencer(clock=lambda: 5_000_000)  # a frozen clock still gives increasing values
    values = [sequencer.next() for _ in range(5)]
    padded = [v.rjust(20, "0") for v in values]
    assert padded == sorted(padded) and len(set(values)) == 5


def test_event_time_has_milliseconds_and_z():
    assert event_time_iso(0.5) == "1970-01-01T00:00:00.500Z"


def test_generated_sample_event_matches_the_real_shaped_fixture():
    fixture = json.loads((EVENTS / "s3-put.json").read_text())
    generated = sample_put_event("source-image-bucket123", "test.jpg", 1024)
    S3Model(**fixture)
    S3Model(**generated)

    def shape(value):
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value]
        return type(value).__name__

    assert shape(generated) == shape(fixture)


def test_notification_targets_match_event_family_prefix_and_suffix():
    [target] = targets_from_configuration(
        {
            "LambdaFunctionConfigurations": [
                {
                    "Id": "t",
                    "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:ImageResizeLambda",
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "Prefix", "Value": "uploads/"},
                                {"Name": "Suffix", "Value": ".jpg"},
                            ]
                        }
                    },
                }
            ]
        }
    )
    assert target.function_name == "ImageResizeLambda"
    assert target.matches("ObjectCreated:Put", "uploads/a.jpg")
    assert target.matches("ObjectCreated:CompleteMultipartUpload", "uploads/a.jpg")
    assert not target.matches("ObjectCreated:Put", "other/a.jpg")
    assert not target.matches("ObjectCreated:Put", "uploads/a.png")
    assert not target.matches("ObjectRemoved:Delete", "uploads/a.jpg")


def test_exact_event_name_matches_only_that_operation():
    target = LambdaTarget("t", "arn:aws:lambda:us-east-1:1:function:F", ("s3:ObjectCreated:Copy",))
    assert target.matches("ObjectCreated:Copy", "a")
    assert not target.matches("ObjectCreated:Put", "a")
