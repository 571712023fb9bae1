"""No event source loses a record when the sandbox's own path fails. A fault is injected inside the
sandbox (an event builder raises) while a real sandbox runs in this process; the records must still reach
the function (tests/handlers/batches reports each batch on "<source>-seen") or land in the failure
destination, the fault must be told on the terminal and counted on the trigger."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from helpers.event_source_mappings import Seen, new_queue, new_table, put, queue_counts
from helpers.paths import HANDLERS
from helpers.waiting import eventually


@pytest.fixture(scope="module")
def sb():
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox

    sandbox = Sandbox(
        SandboxConfig(port=0, web_port=None, terminal_logs=True),
        FunctionConfiguration(code_dir=HANDLERS / "batches", timeout=3),  # so queues may have 3 s visibility
    ).start()
    yield sandbox
    sandbox.stop()


def failing(original, times: int = 1):
    """``original``, raising for its first ``times`` calls (a fault of the sandbox's own code)."""
    calls = []
    lock = threading.Lock()

    def wrapper(*args, **kwargs):
        with lock:
            calls.append(1)
            fail = len(calls) <= times
        if fail:
            raise RuntimeError("injected fault")
        return original(*args, **kwargs)

    return wrapper


def delivered(seen: Seen, count: int, timeout: float = 30) -> list:
    eventually(
        lambda: sum(len(b["ids"]) for b in seen(0)) >= count,
        timeout=timeout,
        what=f"{count} records delivered",
    )
    return [text for b in seen(0) for text in b["batch"]]


def trigger_of(sb, source: str) -> dict:
    return next(t for t in sb.triggers() if t["source"] == source)


# -- SQS -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_queue_batch_the_sandbox_fails_to_build_returns_and_is_delivered(sb, monkeypatch, capsys):
    from sandbox.event_sources.sqs import SqsEventSource

    url, arn, seen = new_queue(sb, visibility=3)
    monkeypatch.setattr(SqsEventSource, "_record", failing(SqsEventSource._record))
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name, EventSourceArn=arn
    )
    sb.client("sqs").send_message(QueueUrl=url, MessageBody="kept")
    assert delivered(seen, 1) == ["kept"]
    assert seen(0)[0]["event"]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    eventually(lambda: queue_counts(sb, url) == (0, 0), what="the message deleted once delivered")
    assert "failed while building the batch's event: RuntimeError: injected fault" in capsys.readouterr().out
    assert trigger_of(sb, arn)["faults"].startswith("1 batch(es)")


@pytest.mark.slow
def test_a_queue_batch_the_sandbox_cannot_send_reaches_the_queues_dlq(sb, monkeypatch, capsys):
    from sandbox.lambda_.service import LambdaService

    dlq_url, dlq_arn, _ = new_queue(sb)
    url, arn, seen = new_queue(
        sb, visibility=3, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    )
    monkeypatch.setattr(LambdaService, "new_record", failing(LambdaService.new_record, times=2))
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name, EventSourceArn=arn
    )
    sb.client("sqs").send_message(QueueUrl=url, MessageBody="never sent")
    eventually(lambda: queue_counts(sb, dlq_url)[0] == 1, timeout=40, what="the message in the queue's DLQ")
    assert queue_counts(sb, url) == (0, 0) and seen(0) == []
    assert capsys.readouterr().out.count("failed while sending a batch to the function") == 2


# -- DynamoDB streams ----------------------------------------------------------------------------
def test_a_stream_batch_the_sandbox_fails_to_build_is_retried_in_order(sb, monkeypatch, capsys):
    from sandbox.event_sources import dynamodb_streams

    table, stream, seen = new_table(sb)
    monkeypatch.setattr(
        dynamodb_streams._ShardReader, "_record", failing(dynamodb_streams._ShardReader._record)
    )
    for i in range(3):
        put(sb, table, f"k{i}", f"text {i}")
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
    )
    texts = [json.loads(t)["text"]["S"] for t in delivered(seen, 3)]
    assert texts == ["text 0", "text 1", "text 2"]
    assert "failed while building the batch's event" in capsys.readouterr().out
    assert trigger_of(sb, stream)["faults"].startswith("1 batch(es)")
    from sandbox.cli import main

    assert main(["triggers", "--endpoint-url", sb.endpoint_url]) == 0
    assert "faults: 1 batch(es) the sandbox failed to handle" in capsys.readouterr().out


def test_a_stream_record_the_sandbox_can_never_build_lands_in_the_on_failure_destination(sb, monkeypatch):
    from sandbox.event_sources import dynamodb_streams

    original = dynamodb_streams._ShardReader._record

    def record(reader, item):
        if "poison" in json.dumps(item["dynamodb"].get("NewImage"), default=str):
            raise ValueError("cannot build this one")
        return original(reader, item)

    monkeypatch.setattr(dynamodb_streams._ShardReader, "_record", record)
    dlq_url, dlq_arn, _ = new_queue(sb)
    table, stream, seen = new_table(sb)
    for text in ("before", "poison", "after"):
        put(sb, table, text, text)
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    eventually(
        lambda: sorted(json.loads(t)["text"]["S"] for t in delivered(seen, 2)) == ["after", "before"],
        what="the records around the poison delivered",
    )
    message = eventually(
        lambda: sb.client("sqs").receive_message(QueueUrl=dlq_url).get("Messages"),
        what="the on-failure record",
    )[0]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == stream
    assert "poison" not in [json.loads(t)["text"]["S"] for t in delivered(seen, 2)]


# -- S3 (asynchronous) ---------------------------------------------------------------------------
def new_bucket(sb) -> tuple[str, Seen]:
    s3 = sb.client("s3")
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"Id": "fn", "LambdaFunctionArn": sb.function.arn(), "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    return bucket, Seen(sb, bucket)


def test_an_s3_event_the_sandbox_fails_to_build_is_retried_and_delivered_once(sb, monkeypatch, capsys):
    from sandbox.event_sources.s3 import source as s3

    bucket, seen = new_bucket(sb)
    monkeypatch.setattr(s3, "build_event", failing(s3.build_event))
    sb.client("s3").put_object(Bucket=bucket, Key="photo.jpg", Body=b"x")
    assert delivered(seen, 1) == ["photo.jpg"]
    assert "could not deliver the S3 event for s3://" in capsys.readouterr().out
    assert trigger_of(sb, f"s3://{bucket}")["faults"].startswith("1 event(s)")
    sb.client("s3").put_object(Bucket=bucket, Key="next.jpg", Body=b"x")
    assert delivered(seen, 2) == ["photo.jpg", "next.jpg"]  # the first not delivered twice


def test_an_s3_event_the_sandbox_can_never_deliver_goes_to_the_functions_dlq(sb, monkeypatch):
    from sandbox.event_sources.s3 import source as s3

    dlq_url, dlq_arn, _ = new_queue(sb)
    lam = sb.client("lambda")
    lam.update_function_configuration(
        FunctionName=sb.function.function_name, DeadLetterConfig={"TargetArn": dlq_arn}
    )
    try:
        bucket, seen = new_bucket(sb)
        original = s3.build_event
        monkeypatch.setattr(
            s3,
            "build_event",
            lambda write, *a: (
                (_ for _ in ()).throw(RuntimeError("never"))
                if write.key == "lost.jpg"
                else original(write, *a)
            ),
        )
        sb.client("s3").put_object(Bucket=bucket, Key="lost.jpg", Body=b"x")
        message = eventually(
            lambda: sb.client("sqs").receive_message(QueueUrl=dlq_url).get("Messages"),
            what="the undeliverable event in the function's DLQ",
        )[0]
        assert json.loads(message["Body"])["sandboxUndeliverableS3Write"]["key"] == "lost.jpg"
    finally:
        lam.update_function_configuration(
            FunctionName=sb.function.function_name, DeadLetterConfig={"TargetArn": ""}
        )


# -- schedules -----------------------------------------------------------------------------------
def new_rule(sb, **target) -> str:
    name = f"rule-{uuid.uuid4().hex[:8]}"
    events = sb.client("events")
    events.put_rule(Name=name, ScheduleExpression="cron(0 3 1 1 ? *)")
    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": sb.function.arn(), **target}])
    return name


def test_a_scheduled_event_the_sandbox_fails_to_send_is_retried(sb, monkeypatch, capsys):
    from sandbox.event_sources import schedules

    name = new_rule(sb)
    seen = Seen(sb, name)
    monkeypatch.setattr(schedules, "target_payload", failing(schedules.target_payload))
    assert sb.fire_rule(name) == []  # the first attempt failed inside the sandbox
    assert len(delivered(seen, 1)) == 1
    assert "could not send its event to" in capsys.readouterr().out
    assert trigger_of(sb, f"rule {name}")["faults"].startswith("1 event(s)")


def test_a_scheduled_event_the_sandbox_can_never_send_goes_to_the_targets_dlq(sb, monkeypatch):
    from sandbox.event_sources import schedules

    dlq_url, dlq_arn, _ = new_queue(sb)
    name = new_rule(sb, DeadLetterConfig={"Arn": dlq_arn})
    monkeypatch.setattr(schedules, "target_payload", failing(schedules.target_payload, times=3))
    sb.fire_rule(name)
    message = eventually(
        lambda: (
            sb.client("sqs").receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"]).get("Messages")
        ),
        what="the event in the target's DLQ",
    )[0]
    assert json.loads(message["Body"])["resources"][0].endswith(f"rule/{name}")
    assert message["MessageAttributes"]["RULE_ARN"]["StringValue"].endswith(f"rule/{name}")
