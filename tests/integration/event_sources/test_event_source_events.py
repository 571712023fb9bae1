"""Events as AWS writes them, through the real parts (a sandbox over HTTP, boto3 as the client, the
function in tests/handlers/batches reporting each batch on "<source>-seen"): DynamoDB binary attributes,
SizeBytes and stream labels, an SQS partial batch response naming a stranger, FIFO attributes, S3 delete
events in versioned buckets, the s3:TestEvent, Scheduler's default notification, and the sandbox's own
bookkeeping kept out of the user's S3 access log. Each event is checked with Powertools' models."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamModel,
    EventBridgeModel,
    S3Model,
    SqsModel,
)

from helpers.event_source_mappings import Seen, new_queue, queue_counts
from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually

# Powertools' and aws-lambda-go's captured DynamoDB stream event (its three changes of one item).
CAPTURED_ID = {"Id": {"N": "101"}}
CAPTURED = [
    ({"Keys": CAPTURED_ID, "NewImage": {"Message": {"S": "New item!"}, **CAPTURED_ID}}, 26),
    (
        {
            "Keys": CAPTURED_ID,
            "NewImage": {"Message": {"S": "This item has changed"}, **CAPTURED_ID},
            "OldImage": {"Message": {"S": "New item!"}, **CAPTURED_ID},
        },
        59,
    ),
    ({"Keys": CAPTURED_ID, "OldImage": {"Message": {"S": "This item has changed"}, **CAPTURED_ID}}, 38),
]


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "batches", timeout=3)  # a queue may then have a 3 s visibility timeout
    sandbox.set_full_cpu(True)  # what is tested is delivery, not the function's speed at its CPU share
    yield sandbox
    sandbox.stop()


def new_table(sb, key: str = "id", key_type: str = "S") -> tuple[str, str, Seen]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    table = sb.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": key_type}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name, table["TableDescription"]["LatestStreamArn"], Seen(sb, name)


def map_stream(sb, stream: str, **options) -> None:
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        **options,
    )


def records_of(seen: Seen, count: int) -> list[dict]:
    eventually(lambda: sum(len(b["ids"]) for b in seen(0)) >= count, what=f"{count} records delivered")
    return [r for b in seen(0) for r in b["event"]["Records"]]


# -- DynamoDB streams ----------------------------------------------------------------------------
def test_binary_attributes_reach_the_function_as_base64_text(sb):
    table, stream, seen = new_table(sb)
    map_stream(sb, stream)
    dynamodb = sb.client("dynamodb")
    dynamodb.put_item(
        TableName=table,
        Item={
            "id": {"S": "bin"},
            "blob": {"B": b"\x00\x01*A"},
            "blobs": {"BS": [b"\xff", b"ab"]},
            "nested": {"M": {"inner": {"B": b"\x02"}}},
        },
    )
    dynamodb.put_item(TableName=table, Item={"id": {"S": "after"}, "text": {"S": "plain"}})
    records = records_of(seen, 2)
    DynamoDBStreamModel.model_validate({"Records": records})
    image = records[0]["dynamodb"]["NewImage"]
    assert image["blob"] == {"B": "AAEqQQ=="}
    assert image["blobs"] == {"BS": ["/w==", "YWI="]}
    assert image["nested"]["M"]["inner"] == {"B": base64.b64encode(b"\x02").decode()}
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in records] == ["bin", "after"]


def test_record_size_counts_names_and_values_as_dynamodb_does():
    from sandbox.event_sources.dynamodb_streams import record_size

    for change, aws_size in CAPTURED:
        assert record_size(change) == aws_size
    assert record_size(
        {
            "Keys": {"k": {"B": "AAEqQQ=="}},
            "NewImage": {
                "k": {"B": "AAEqQQ=="},
                "l": {"L": [{"N": "-0.0100"}, {"NULL": True}]},
                "m": {"M": {"a": {"BOOL": False}}},
            },
        }
    ) == (1 + 4) + (1 + 4) + (1 + 3 + (2 + 1) + (1 + 1)) + (1 + 3 + (1 + 1 + 1))


def test_size_bytes_of_streamed_changes_are_awss(sb):
    table, stream, seen = new_table(sb, key="Id", key_type="N")
    map_stream(sb, stream)
    dynamodb = sb.client("dynamodb")
    dynamodb.put_item(TableName=table, Item={"Message": {"S": "New item!"}, **CAPTURED_ID})
    dynamodb.put_item(TableName=table, Item={"Message": {"S": "This item has changed"}, **CAPTURED_ID})
    dynamodb.delete_item(TableName=table, Key=CAPTURED_ID)
    records = records_of(seen, 3)
    assert [r["dynamodb"]["SizeBytes"] for r in records] == [26, 59, 38]


def test_stream_labels_have_milliseconds_in_streams_and_generated_events(sb, capsys):
    from sandbox.cli import main

    label = re.compile(r"/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$")
    _, stream, _ = new_table(sb)
    assert label.search(stream), stream
    assert main(["generate-event", "dynamodb-update"]) == 0
    event = json.loads(capsys.readouterr().out)
    DynamoDBStreamModel.model_validate(event)
    assert all(label.search(r["eventSourceARN"]) for r in event["Records"])
    # key (3) + "test.jpg" (8); caption (7) + "A sunny day" (11) or "A sunny afternoon" (17), with the key
    # again
    assert [r["dynamodb"]["SizeBytes"] for r in event["Records"]] == [11 + 29, 11 + 29 + 35, 11 + 35]


# -- SQS -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_partial_batch_response_naming_a_stranger_fails_the_whole_batch(sb):
    sqs = sb.client("sqs")
    dlq_url, dlq_arn, _ = new_queue(sb)
    url, arn, seen = new_queue(
        sb, visibility=3, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    )
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=arn,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    sqs.send_message(QueueUrl=url, MessageBody="stranger")
    eventually(lambda: queue_counts(sb, dlq_url)[0] == 1, timeout=40, what="the message in the DLQ")
    assert [b["batch"] for b in seen(2)] == [["stranger"], ["stranger"]]  # 2 invocations, as on AWS
    assert queue_counts(sb, url) == (0, 0)


def test_fifo_records_carry_sequence_number_group_and_deduplication_id(sb):
    url, arn, seen = new_queue(sb, FifoQueue="true", ContentBasedDeduplication="true")
    sqs = sb.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody="first", MessageGroupId="g1", MessageDeduplicationId="d1")
    sqs.send_message(QueueUrl=url, MessageBody="second", MessageGroupId="g1")  # content-based deduplication
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name, EventSourceArn=arn, BatchSize=10
    )
    seen(1)
    eventually(lambda: len([r for b in seen(0) for r in b["event"]["Records"]]) == 2, what="both messages")
    records = [r for b in seen(0) for r in b["event"]["Records"]]
    for batch in seen(0):
        SqsModel.model_validate(batch["event"])
    first, second = (r["attributes"] for r in records)
    assert (
        first["MessageGroupId"] == second["MessageGroupId"] == "g1"
        and first["MessageDeduplicationId"] == "d1"
    )
    assert second["MessageDeduplicationId"] == hashlib.sha256(b"second").hexdigest()
    numbers = [int(first["SequenceNumber"]), int(second["SequenceNumber"])]
    assert numbers == sorted(numbers) and all(len(str(n)) == 20 for n in numbers)


# -- S3 ------------------------------------------------------------------------------------------
def s3_events(sb, url: str, count: int) -> list[dict]:
    """The S3 events a queue target got (the s3:TestEvent set aside), in order."""
    got: list[dict] = []

    def enough():
        for message in (
            sb.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        ):
            got.append(json.loads(message["Body"]))
        return len([e for e in got if "Records" in e]) >= count

    eventually(enough, what=f"{count} S3 events")
    return got


def bucket_to_queue(sb, events: list[str], versioned: bool) -> tuple[str, str]:
    sqs, s3 = sb.client("sqs"), sb.client("s3")
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=bucket)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"Id": "removals", "QueueArn": arn, "Events": events}]
        },
    )
    return bucket, url


def removals(events: list[dict]) -> list[tuple[str, str, str | None]]:
    for event in events:
        S3Model.model_validate(event)
    return [
        (r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"].get("versionId"))
        for e in events
        for r in e["Records"]
    ]


def test_deletes_in_a_versioned_bucket_are_named_as_s3_names_them(sb):
    s3 = sb.client("s3")
    bucket, url = bucket_to_queue(sb, ["s3:ObjectRemoved:*"], versioned=True)
    first = s3.put_object(Bucket=bucket, Key="a.txt", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="b.txt", Body=b"2")
    marker = s3.delete_object(Bucket=bucket, Key="a.txt")
    assert marker["DeleteMarker"] is True
    s3.delete_object(Bucket=bucket, Key="a.txt", VersionId=first)
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b.txt"}]})["Deleted"][0]
    got = [e for e in s3_events(sb, url, 3) if "Records" in e]
    assert removals(got) == [
        ("ObjectRemoved:DeleteMarkerCreated", "a.txt", marker["VersionId"]),
        ("ObjectRemoved:Delete", "a.txt", first),
        ("ObjectRemoved:DeleteMarkerCreated", "b.txt", deleted["DeleteMarkerVersionId"]),
    ]


def test_a_delete_marker_filter_fires_only_for_delete_markers(sb):
    s3 = sb.client("s3")
    bucket, url = bucket_to_queue(sb, ["s3:ObjectRemoved:DeleteMarkerCreated"], versioned=True)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)  # a version delete: no event for this filter
    marker = s3.put_object(Bucket=bucket, Key="m", Body=b"1") and s3.delete_object(Bucket=bucket, Key="m")
    got = [e for e in s3_events(sb, url, 1) if "Records" in e]
    assert removals(got) == [("ObjectRemoved:DeleteMarkerCreated", "m", marker["VersionId"])]


def test_deletes_in_an_unversioned_bucket_carry_no_version(sb):
    s3 = sb.client("s3")
    bucket, url = bucket_to_queue(sb, ["s3:ObjectRemoved:*"], versioned=False)
    s3.put_object(Bucket=bucket, Key="x", Body=b"1")
    s3.delete_object(Bucket=bucket, Key="x")
    got = [e for e in s3_events(sb, url, 1) if "Records" in e]
    assert removals(got) == [("ObjectRemoved:Delete", "x", None)]


def test_the_s3_test_event_names_its_request(sb):
    _, url = bucket_to_queue(sb, ["s3:ObjectCreated:*"], versioned=False)
    message = eventually(
        lambda: sb.client("sqs").receive_message(QueueUrl=url).get("Messages"), what="the s3:TestEvent"
    )[0]
    event = json.loads(message["Body"])
    assert event["Event"] == "s3:TestEvent" and set(event) == {
        "Service",
        "Event",
        "Time",
        "Bucket",
        "RequestId",
        "HostId",
    }
    assert re.fullmatch(r"[0-9A-F]{16}", event["RequestId"]) and event["HostId"]


def test_the_sandboxs_bookkeeping_is_not_in_the_users_access_log(sb):
    s3 = sb.client("s3")
    bucket, logs = f"b-{uuid.uuid4().hex[:8]}", f"logs-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=logs, ACL="log-delivery-write")
    seen = Seen(sb, bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": sb.function.arn(), "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    s3.put_bucket_logging(
        Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": ""}}
    )
    before = s3.list_objects_v2(Bucket=logs).get("KeyCount", 0)
    for number in range(3):
        s3.put_object(Bucket=bucket, Key=f"photo-{number}.jpg", Body=b"x")
    eventually(lambda: sum(len(b["ids"]) for b in seen(0)) >= 3, what="the three uploads delivered")
    sb.triggers()  # the page's listing of notifications reads them too
    records = [
        s3.get_object(Bucket=logs, Key=o["Key"])["Body"].read().decode()
        for o in s3.list_objects_v2(Bucket=logs)["Contents"]
    ]
    assert len(records) - before == 3, "one record per upload, none of the sandbox's own"
    assert not [r for r in records if "REST.GET.BUCKET" in r]


# -- EventBridge Scheduler -----------------------------------------------------------------------
def test_scheduler_default_notification_has_detail_as_json_text(sb):
    scheduler = sb.client("scheduler")
    name = f"s-{uuid.uuid4().hex[:6]}"
    arn = scheduler.create_schedule(
        Name=name,
        ScheduleExpression="cron(0 3 1 1 ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": sb.function.arn(), "RoleArn": sb.function.role_arn},
    )["ScheduleArn"]
    seen = Seen(sb, name)
    sb.fire_rule(name, kind="schedule")
    event = seen(1)[0]["event"]
    assert event["detail"] == "{}" and event["source"] == "aws.scheduler" and event["resources"] == [arn]
    EventBridgeModel.model_validate(event)
