"""SQS queues and DynamoDB streams as event sources, through the real parts: mappings made with the AWS
CLI and boto3 against a running sandbox, records delivered by the sandbox's pollers to real execution
environments, events checked against Powertools' strict models, AWS's semantics asserted (batching,
ordering, blocking shards, bisect, partial batch responses, redrive to the queue's DLQ, filters).

The function (tests/handlers/batches) reports every batch it receives on the queue "<source>-seen" and
fails as the records ask ("fail" in a record fails the batch; "partial" reports that record as failed).
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import uuid

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel, SqsModel
from botocore.exceptions import ClientError

from helpers.aws_cli import aws_command
from helpers.event_shapes import compare, reference
from helpers.event_source_mappings import new_queue, new_table, put, queue_counts
from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually
from sandbox.lambda_.event_source_mappings import failed_item_ids, matches


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "batches", timeout=3)  # a queue may then have a 3 s visibility timeout
    sandbox.set_full_cpu(True)  # what is tested is delivery, not the function's speed at its CPU share
    yield sandbox
    sandbox.stop()


# -- units ---------------------------------------------------------------------------------------
def test_filter_patterns_match_as_lambda_documents():
    record = {"body": {"type": "image", "size": 12}, "attributes": {"SenderId": "me"}}
    assert matches({"body": {"type": ["image"]}}, record)
    assert not matches({"body": {"type": ["video"]}}, record)
    assert matches({"body": {"size": [{"numeric": [">", 10, "<=", 12]}]}}, record)
    assert matches(
        {"body": {"type": [{"prefix": "im"}]}, "attributes": {"SenderId": [{"anything-but": "you"}]}}, record
    )
    assert matches({"body": {"missing": [{"exists": False}]}}, record)
    assert not matches({"body": {"missing": [{"exists": True}]}}, record)


@pytest.mark.parametrize(
    "result,expected",
    [
        ({"batchItemFailures": []}, []),
        (None, []),
        ({"batchItemFailures": [{"itemIdentifier": "a"}]}, ["a"]),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": "x"}, None),
    ],
)
def test_partial_batch_responses_are_read_as_aws_reads_them(result, expected):
    assert failed_item_ids(result) == expected


# -- SQS -----------------------------------------------------------------------------------------
def test_messages_reach_the_function_as_an_sqs_event_and_leave_the_queue(sb, aws_env_for):
    url, arn, seen = new_queue(sb)
    created = subprocess.run(
        [
            *aws_command(),
            "lambda",
            "create-event-source-mapping",
            "--function-name",
            sb.function.function_name,
            "--event-source-arn",
            arn,
            "--batch-size",
            "10",
        ],
        env=aws_env_for(sb),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    sqs = sb.client("sqs")
    sqs.send_message(
        QueueUrl=url,
        MessageBody="hello",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}},
    )
    batch = seen(1)[0]
    SqsModel.model_validate(batch["event"])
    record = batch["event"]["Records"][0]
    assert record["body"] == "hello" and record["eventSourceARN"] == arn
    assert record["messageAttributes"]["kind"]["stringValue"] == "greeting"
    eventually(lambda: queue_counts(sb, url) == (0, 0), what="the delivered message deleted")
    invocation = next(r for r in sb.invocations() if r.trigger == "sqs")
    assert invocation.source == "aws:sqs" and invocation.summary.endswith(url.rsplit("/", 1)[1])


@pytest.mark.slow
def test_a_failed_batch_returns_after_the_visibility_timeout_and_moves_to_the_dlq(sb):
    sqs = sb.client("sqs")
    dlq_url, dlq_arn, _ = new_queue(sb)
    url, arn, seen = new_queue(
        sb, visibility=3, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    )
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name, EventSourceArn=arn
    )
    sqs.send_message(QueueUrl=url, MessageBody="poison: fail")
    batches = seen(2, timeout=60)
    assert [b["batch"] for b in batches[:2]] == [["poison: fail"], ["poison: fail"]]
    assert [int(b["event"]["Records"][0]["attributes"]["ApproximateReceiveCount"]) for b in batches[:2]] == [
        1,
        2,
    ]
    eventually(lambda: queue_counts(sb, dlq_url)[0] == 1, timeout=30, what="the poison message in the DLQ")
    assert queue_counts(sb, url) == (0, 0)


@pytest.mark.slow
def test_report_batch_item_failures_keeps_only_the_failed_messages(sb):
    sqs = sb.client("sqs")
    url, arn, seen = new_queue(sb, visibility=3)
    for body in ("ok 1", "partial 2", "ok 3"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=arn,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    first = seen(1)[0]
    assert sorted(first["batch"]) == ["ok 1", "ok 3", "partial 2"]
    eventually(lambda: queue_counts(sb, url) == (0, 1), what="only the failed message left (in flight)")
    assert sorted(seen(2, timeout=30)[1]["batch"]) == ["partial 2"]  # back after its visibility timeout


def test_filtered_out_messages_are_deleted_without_an_invocation(sb):
    sqs = sb.client("sqs")
    url, arn, seen = new_queue(sb)
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=arn,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"type": ["image"]}})}]},
    )
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"type": "video"}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"type": "image"}))
    batches = seen(1)
    eventually(lambda: queue_counts(sb, url) == (0, 0), what="both messages gone")
    assert [json.loads(b) for batch in batches for b in batch["batch"]] == [{"type": "image"}]


def test_lambda_refuses_a_function_timeout_above_the_queue_visibility_timeout(sb):
    _, arn, _ = new_queue(sb, visibility=2)
    with pytest.raises(ClientError) as error:
        sb.client("lambda").create_event_source_mapping(
            FunctionName=sb.function.function_name, EventSourceArn=arn
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "Queue visibility timeout: 2 seconds is less than Function timeout: 3 seconds" in str(error.value)


def test_a_disabled_mapping_leaves_messages_in_the_queue_until_enabled(sb):
    sqs, lam = sb.client("sqs"), sb.client("lambda")
    url, arn, seen = new_queue(sb)
    mapping = lam.create_event_source_mapping(
        FunctionName=sb.function.function_name, EventSourceArn=arn, Enabled=False
    )
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    eventually(lambda: queue_counts(sb, url) == (1, 0), what="the message waiting, untouched")
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    assert seen(1)[0]["batch"] == ["waiting"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    sqs.send_message(QueueUrl=url, MessageBody="after delete")
    eventually(lambda: queue_counts(sb, url) == (1, 0), what="no poller after delete")


# -- DynamoDB streams ----------------------------------------------------------------------------
def test_table_changes_reach_the_function_in_order_as_a_dynamodb_stream_event(sb):
    table, stream, seen = new_table(sb)
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name, EventSourceArn=stream, StartingPosition="TRIM_HORIZON"
    )
    for i in range(5):
        put(sb, table, f"k{i}", f"caption {i}")
    put(sb, table, "k0", "caption 0 edited")
    sb.client("dynamodb").delete_item(TableName=table, Key={"id": {"S": "k1"}})
    batches = seen(1)
    eventually(lambda: sum(len(b["ids"]) for b in seen(0)) >= 7, what="all seven changes delivered")
    records = [r for b in seen(0) for r in b["event"]["Records"]]
    for batch in seen(0):
        DynamoDBStreamModel.model_validate(batch["event"])
    assert [r["eventName"] for r in records] == ["INSERT"] * 5 + ["MODIFY", "REMOVE"]
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(numbers)
    assert records[5]["dynamodb"]["OldImage"]["text"]["S"] == "caption 0"
    assert records[0]["eventVersion"] == "1.1" and records[0]["eventSourceARN"] == stream
    assert batches


def test_starting_position_is_required_for_a_stream(sb):
    _, stream, _ = new_table(sb)
    with pytest.raises(ClientError) as error:
        sb.client("lambda").create_event_source_mapping(
            FunctionName=sb.function.function_name, EventSourceArn=stream
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"


@pytest.mark.slow
def test_a_failing_batch_blocks_its_shard_then_is_skipped_with_an_on_failure_record(sb):
    dlq_url, dlq_arn, _ = new_queue(sb)
    table, stream, seen = new_table(sb)
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    put(sb, table, "a", "please fail")
    put(sb, table, "b", "fine")
    batches = seen(4, timeout=60)
    texts = [json.loads(b["batch"][0])["text"]["S"] for b in batches]
    assert texts[:4] == ["please fail"] * 3 + ["fine"]  # 1 attempt + 2 retries, and only then the next record
    message = eventually(
        lambda: sb.client("sqs").receive_message(QueueUrl=dlq_url).get("Messages"),
        what="the on-failure record",
    )[0]
    info = json.loads(message["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["batchSize"] == 1 and info["DDBStreamBatchInfo"]["streamArn"] == stream


def test_bisect_isolates_the_failing_record_without_using_retries(sb):
    table, stream, seen = new_table(sb)
    for i, text in enumerate(["one", "two", "fail three", "four"]):
        put(sb, table, f"k{i}", text)
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=4,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
    )
    eventually(
        lambda: any(b["batch"] and len(b["batch"]) == 1 and "fail three" in b["batch"][0] for b in seen(0)),
        timeout=30,
        what="the failing record alone in a batch",
    )
    eventually(
        lambda: any("four" in t for b in seen(0) for t in b["batch"] if len(b["batch"]) == 1),
        timeout=30,
        what="the record after it delivered",
    )
    sizes = [len(b["batch"]) for b in seen(0)]
    assert sizes[:3] == [4, 2, 2] and 1 in sizes[3:]


def test_partial_batch_response_checkpoints_at_the_lowest_failed_record(sb):
    table, stream, seen = new_table(sb)
    for i, text in enumerate(["one", "partial two", "three"]):
        put(sb, table, f"k{i}", text)
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=3,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    batches = seen(2, timeout=30)
    assert len(batches[0]["ids"]) == 3
    assert batches[1]["ids"] == batches[0]["ids"][1:]  # retried from "partial two" on, "one" is done


def test_moto_never_consumes_what_the_sandbox_delivers(sb):
    url, arn, seen = new_queue(sb)
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name, EventSourceArn=arn
    )
    sb.client("sqs").send_message(QueueUrl=url, MessageBody="once")
    batch = seen(1)[0]
    assert batch["event"]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1"
    assert not [e for e in sb.log_events() if "docker" in e.message.lower()]


@pytest.fixture
def aws_env_for():
    import os

    def env(sandbox):
        values = dict(os.environ)
        values.update(sandbox.client_environment())
        values.pop("AWS_PROFILE", None)
        return values

    return env


def test_s3_queue_configurations_feed_a_queue_whose_mapping_invokes_the_function(sb):
    from aws_lambda_powertools.utilities.parser.models import S3Model

    url, arn, seen = new_queue(sb)
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    s3 = sb.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"Id": "to-queue", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name, EventSourceArn=arn
    )
    s3.put_object(Bucket=bucket, Key="photo one.jpg", Body=b"not really an image")

    def s3_events():
        bodies = [json.loads(r["body"]) for b in seen(0) for r in b["event"]["Records"]]
        return [b for b in bodies if "Records" in b]

    event = eventually(s3_events, what="the S3 event delivered through the queue")[0]
    S3Model.model_validate(event)  # every field AWS sends, not moto's reduced event
    assert event["Records"][0]["s3"]["object"]["key"] == "photo+one.jpg"
    assert event["Records"][0]["s3"]["configurationId"] == "to-queue"
    tests = [
        json.loads(r["body"])
        for b in seen(0)
        for r in b["event"]["Records"]
        if json.loads(r["body"]).get("Event") == "s3:TestEvent"
    ]
    assert tests, "S3 sends the queue an s3:TestEvent when the configuration is set, as on AWS"
    eventually(lambda: queue_counts(sb, url) == (0, 0), what="the queue drained")


@pytest.mark.parametrize(
    "kind,model", [("sqs-receive-message", SqsModel), ("dynamodb-update", DynamoDBStreamModel)]
)
def test_generate_event_prints_what_a_mapping_hands_the_function(kind, model, capsys):
    from sandbox.cli import main

    assert main(["generate-event", kind]) == 0
    model.model_validate(json.loads(capsys.readouterr().out))


def test_triggers_list_each_mapping_with_its_state_and_last_result(sb, capsys):
    from sandbox.cli import main

    url, arn, seen = new_queue(sb)
    mapping = sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name, EventSourceArn=arn, BatchSize=7
    )
    listed = next(t for t in sb.triggers() if t["source"] == arn)
    assert (listed["kind"], listed["state"], listed["last_result"]) == (
        "SQS queue",
        "Enabled",
        "No records processed",
    )
    sb.client("sqs").send_message(QueueUrl=url, MessageBody="fail please")
    seen(1)
    eventually(
        lambda: next(t for t in sb.triggers() if t["source"] == arn)["last_result"],
        lambda result: result == "PROBLEM: Function call failed",
        what="the failed batch as the last result",
    )
    sb.client("lambda").update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    assert main(["triggers", "--endpoint-url", sb.endpoint_url]) == 0
    printed = capsys.readouterr().out
    assert arn in printed and "Disabled" in printed and "batch 7" in printed
    s3_trigger = next(t for t in sb.triggers() if t["kind"] == "S3 notification")
    assert s3_trigger["function"] == sb.function.function_name


def iterator_age(sb) -> list[dict]:
    sb.metrics.flush()
    now = datetime.datetime.now(datetime.timezone.utc)
    return sb.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="IteratorAge",
        Dimensions=[{"Name": "FunctionName", "Value": sb.function.function_name}],
        StartTime=now - datetime.timedelta(minutes=5),
        EndTime=now + datetime.timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]


def test_a_stream_mapping_emits_iterator_age_in_milliseconds(sb):
    table, stream, seen = new_table(sb)
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name, EventSourceArn=stream, StartingPosition="TRIM_HORIZON"
    )
    put(sb, table, "k1", "caption")
    seen(1)
    points = eventually(lambda: iterator_age(sb), what="an IteratorAge datapoint")
    assert all(p["Unit"] == "Milliseconds" for p in points)
    assert 0 <= max(p["Maximum"] for p in points) < 60_000  # the record was seconds old, not minutes
    assert any(name == "IteratorAge" for _, name, _ in sb.metrics.datapoints(sb.function.function_name))


# -- on-failure destinations of mappings ---------------------------------------------------------
STREAM_RECORD = reference("destination-ddb-stream.aws-docs.json")


def skipped_batch_record(sb, destination: str) -> tuple[str, str]:
    """A stream mapping whose first batch fails once and is skipped to ``destination``."""
    table, stream, seen = new_table(sb)
    mapping = sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": destination}},
    )
    put(sb, table, "a", "please fail")
    seen(1)
    return stream, mapping["UUID"]


def assert_stream_record_as_aws_writes_it(record: dict, stream: str, function: str) -> None:
    assert compare(record, STREAM_RECORD) == []
    info = record["DDBStreamBatchInfo"]
    assert info["streamArn"] == stream and info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    for key in ("approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info[key]), info[key]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
    context = record["requestContext"]
    assert context["functionArn"].endswith(f":function:{function}")  # unqualified, as AWS writes it
    assert (context["condition"], context["approximateInvokeCount"]) == ("RetryAttemptsExhausted", 1)
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }


def test_a_skipped_stream_batch_is_recorded_on_an_sns_topic_as_aws_writes_it(sb):
    url, queue_arn, _ = new_queue(sb)
    topic = sb.client("sns").create_topic(Name=f"skipped-{uuid.uuid4().hex[:6]}")["TopicArn"]
    sb.client("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    stream, _ = skipped_batch_record(sb, topic)
    listed = next(t for t in sb.triggers() if t["source"] == stream)
    assert f"on failure → {topic}" in listed["detail"]  # as the page and `run_local.py triggers` list it
    message = eventually(
        lambda: sb.client("sqs").receive_message(QueueUrl=url).get("Messages"), what="the record via SNS"
    )[0]
    assert_stream_record_as_aws_writes_it(json.loads(message["Body"]), stream, sb.function.function_name)


def test_a_skipped_stream_batch_is_written_to_an_s3_bucket_with_its_payload(sb):
    bucket = f"skipped-{uuid.uuid4().hex[:8]}"
    s3 = sb.client("s3")
    s3.create_bucket(Bucket=bucket)
    stream, mapping = skipped_batch_record(sb, f"arn:aws:s3:::{bucket}")
    keys = eventually(
        lambda: [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])],
        what="the record in the bucket",
    )
    shard = r"[A-Za-z0-9-]+"
    pattern = (
        rf"aws/lambda/{mapping}/{shard}/\d{{4}}/\d\d/\d\d/\d{{4}}-\d\d-\d\dT\d\d\.\d\d\.\d\d-[0-9a-f-]{{36}}"
    )
    assert re.fullmatch(pattern, keys[0]), keys[0]
    document = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    payload = json.loads(document.pop("payload"))
    assert_stream_record_as_aws_writes_it(document, stream, sb.function.function_name)
    assert keys[0].split("/")[3] == document["DDBStreamBatchInfo"]["shardId"]
    assert [r["dynamodb"]["NewImage"]["text"]["S"] for r in payload["Records"]] == ["please fail"]
    DynamoDBStreamModel.model_validate(payload)  # the invocation's event, as the function got it


def test_a_stream_destination_lambda_does_not_send_to_is_refused(sb):
    _, stream, _ = new_table(sb)
    with pytest.raises(ClientError) as error:
        sb.client("lambda").create_event_source_mapping(
            FunctionName=sb.function.function_name,
            EventSourceArn=stream,
            StartingPosition="LATEST",
            DestinationConfig={
                "OnFailure": {"Destination": "arn:aws:lambda:us-east-1:123456789012:function:other"}
            },
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_a_queue_mapping_refuses_a_destination_config_as_lambda_does(sb):
    _, arn, _ = new_queue(sb)
    _, dlq_arn, _ = new_queue(sb)
    with pytest.raises(ClientError) as error:
        sb.client("lambda").create_event_source_mapping(
            FunctionName=sb.function.function_name,
            EventSourceArn=arn,
            DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert error.value.response["Error"]["Message"] == (
        "Unsupported 'destinationConfig' parameter for given event source mapping type."
    )
    mappings = sb.client("lambda").list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert mappings == []


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"MaximumRetryAttempts": 10_001}, "ValidationException"),
        ({"MaximumRecordAgeInSeconds": 604_801}, "ValidationException"),
        ({"MaximumRecordAgeInSeconds": 30}, "InvalidParameterValueException"),
    ],
)
def test_a_stream_mappings_retry_and_age_limits_hold_as_lambdas_do(sb, options, code):
    _, stream, _ = new_table(sb)
    with pytest.raises(ClientError) as error:
        sb.client("lambda").create_event_source_mapping(
            FunctionName=sb.function.function_name,
            EventSourceArn=stream,
            StartingPosition="LATEST",
            **options,
        )
    assert error.value.response["Error"]["Code"] == code
    assert sb.client("lambda").list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"] == []
