"""EventBridge buses delivering put events to the targets of the rules whose patterns match, through the
real parts: a running sandbox over HTTP, the AWS CLI and boto3. A matching event invokes a Lambda target
asynchronously, once (moto delivers nothing itself), in EventBridge's shape (valid under Powertools'
EventBridgeModel); an SQS target gets it as the message body; custom buses, Input/InputPath and input
transformers; a target the sandbox cannot reach is retried, then dead-lettered, and counted.

The function (tests/handlers/scheduled) returns the event it got.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    EventBridgeModel,
    S3EventNotificationEventBridgeModel,
)

from helpers.aws_cli import aws_cli
from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually
from helpers.waiting import settle as settle_invocations


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "scheduled", timeout=10)
    yield sandbox
    sandbox.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def function_arn(sb) -> str:
    return sb.client("lambda").get_function(FunctionName=sb.function.function_name)["Configuration"][
        "FunctionArn"
    ]


def new_queue(sb) -> tuple[str, str]:
    sqs = sb.client("sqs")
    url = sqs.create_queue(QueueName=unique("queue"))["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def rule(sb, pattern: dict, targets: list, bus: str = "default") -> str:
    events = sb.client("events")
    name = unique("rule")
    arn = events.put_rule(Name=name, EventPattern=json.dumps(pattern), EventBusName=bus)["RuleArn"]
    events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    return arn


def put(sb, source: str, detail: dict, bus: str = "default", detail_type: str = "Order Placed") -> str:
    answer = sb.client("events").put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "EventBusName": bus,
                "Resources": ["arn:aws:s3:::somewhere"],
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0, answer
    return answer["Entries"][0]["EventId"]


def records(sb, rule_arn: str) -> list:
    return [r for r in sb.records.all() if r.trigger == "eventbridge" and r.subject.get("rule") == rule_arn]


def bridge(sb):
    (found,) = [s for s in sb.event_sources if s.name == "eventbridge"]
    return found


def settle(sb) -> None:
    """Every accepted event handed on (a queue or topic target has its message, a function its invocation
    record), and every invocation final: nothing more is on its way."""
    assert bridge(sb).wait_idle(20)
    settle_invocations(sb)


def finished(sb, rule_arn: str, count: int = 1) -> list:
    done = eventually(
        lambda: [r for r in records(sb, rule_arn) if r.final],
        until=lambda found: len(found) >= count,
        what=f"{count} invocation(s) by {rule_arn}",
    )
    settle(sb)
    assert len(records(sb, rule_arn)) == count  # once each: no second delivery
    return done


def test_a_matching_event_invokes_the_function_once_in_eventbridges_shape(sb):
    source = unique("com.shop")
    arn = rule(
        sb,
        {"source": [source], "detail": {"amount": [{"numeric": [">", 100]}]}},
        [{"Id": "fn", "Arn": function_arn(sb)}],
    )
    kept = put(sb, source, {"amount": 250, "items": ["a", "b"]})
    put(sb, source, {"amount": 5})  # below the range
    put(sb, unique("other"), {"amount": 500})  # another source
    (record,) = finished(sb, arn)
    event = record.result["event"]
    EventBridgeModel(**event)
    assert event["id"] == kept
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert event["detail"] == {"amount": 250, "items": ["a", "b"]}
    assert event["resources"] == ["arn:aws:s3:::somewhere"]
    assert event["source"] == source and event["detail-type"] == "Order Placed"


def test_an_sqs_target_gets_the_event_as_the_message_body_once(sb):
    url, queue_arn = new_queue(sb)
    source = unique("com.shop")
    rule(
        sb,
        {"source": [{"prefix": source[:12]}], "detail-type": [{"anything-but": "Ignored"}]},
        [{"Id": "q", "Arn": queue_arn}],
    )
    event_id = put(sb, source, {"n": 1})
    put(sb, source, {"n": 2}, detail_type="Ignored")
    settle(sb)
    messages = sb.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    bodies = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    assert [b["id"] for b in bodies] == [event_id]
    EventBridgeModel(**bodies[0])


def test_a_custom_bus_delivers_only_its_own_events_with_an_input_transformer(sb):
    aws = aws_cli(sb)
    bus = unique("orders")
    created = aws("events", "create-event-bus", "--name", bus)
    assert created.returncode == 0, created.stderr
    source = unique("com.shop")
    arn = rule(
        sb,
        {"source": [source]},
        [
            {
                "Id": "fn",
                "Arn": function_arn(sb),
                "InputTransformer": {
                    "InputPathsMap": {"customer": "$.detail.customer", "kind": "$.detail-type"},
                    "InputTemplate": '{"who": <customer>, "what": "<kind> on <aws.events.rule-name>", '
                    '"rule": "<aws.events.rule-arn>", "whole": <aws.events.event>}',
                },
            }
        ],
        bus=bus,
    )
    put(sb, source, {"customer": "ann"})  # the default bus: not this rule's
    entries = json.dumps(
        [
            {
                "Source": source,
                "DetailType": "Order Placed",
                "Detail": '{"customer": "bob"}',
                "EventBusName": bus,
            }
        ]
    )
    sent = aws("events", "put-events", "--entries", entries)
    assert sent.returncode == 0, sent.stderr
    (record,) = finished(sb, arn)
    got = record.result["event"]
    assert got["who"] == "bob"
    assert got["what"] == f"Order Placed on {arn.rsplit('/', 1)[-1]}"
    assert got["rule"] == arn
    assert got["whole"]["detail"] == {"customer": "bob"}


def test_input_and_input_path_replace_the_event(sb):
    source = unique("com.shop")
    arn = rule(
        sb,
        {"source": [source]},
        [
            {"Id": "constant", "Arn": function_arn(sb), "Input": '{"constant": true}'},
            {"Id": "path", "Arn": function_arn(sb), "InputPath": "$.detail"},
        ],
    )
    put(sb, source, {"part": 7})
    got = [r.result["event"] for r in finished(sb, arn, count=2)]
    assert sorted(got, key=json.dumps) == sorted([{"constant": True}, {"part": 7}], key=json.dumps)


def test_an_unreachable_target_is_retried_then_dead_lettered_and_counted(sb):
    url, dlq_arn = new_queue(sb)
    source = unique("com.shop")
    missing = function_arn(sb).replace(sb.function.function_name, "no-such-function")
    arn = rule(
        sb,
        {"source": [source]},
        [
            {
                "Id": "gone",
                "Arn": missing,
                "RetryPolicy": {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60},
                "DeadLetterConfig": {"Arn": dlq_arn},
            }
        ],
    )
    event_id = put(sb, source, {"x": 1})
    message = eventually(
        lambda: (
            sb.client("sqs")
            .receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1)
            .get("Messages")
        ),
        what="the dead-lettered event",
    )[0]
    assert json.loads(message["Body"])["id"] == event_id
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == arn
    assert attributes["TARGET_ARN"] == missing
    assert attributes["RETRY_ATTEMPTS"] == "1"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    source_ = bridge(sb)
    eventually(  # counted just after the dead letter is sent
        lambda: (source_.faults.get(arn), source_.dead_lettered.get(arn)),
        lambda counts: counts == (2, 1),
        what="2 failed attempts and 1 dead letter counted on the rule",
    )
    (trigger,) = [t for t in source_.triggers() if t["source"].endswith(arn.rsplit("/", 1)[-1])]
    assert "2 delivery attempt(s) failed" in trigger["faults"]


def test_a_failing_function_gets_lambdas_async_retries(sb):
    source = unique("com.shop")
    arn = rule(sb, {"source": [source]}, [{"Id": "fn", "Arn": function_arn(sb), "InputPath": "$.detail"}])
    put(sb, source, {"fail": "always"})
    done = eventually(
        lambda: [r for r in records(sb, arn) if r.final],
        until=lambda found: len(found) >= 3,
        what="three attempts",
        timeout=60,
    )
    assert all(r.error_type for r in done)


def test_s3_sends_object_created_to_the_default_bus_in_aws_shape(sb):
    s3 = sb.client("s3")
    bucket = unique("bridged")
    s3.create_bucket(Bucket=bucket)
    aws = aws_cli(sb)
    configured = aws(
        "s3api",
        "put-bucket-notification-configuration",
        "--bucket",
        bucket,
        "--notification-configuration",
        '{"EventBridgeConfiguration": {}}',
    )
    assert configured.returncode == 0, configured.stderr
    arn = rule(
        sb,
        {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"suffix": ".jpg"}]}},
        },
        [{"Id": "fn", "Arn": function_arn(sb)}],
    )
    s3.put_object(Bucket=bucket, Key="photos/cat.jpg", Body=b"12345")
    s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"x")  # not .jpg
    s3.delete_object(Bucket=bucket, Key="photos/cat.jpg")  # Object Deleted: not this rule's
    (record,) = finished(sb, arn)
    event = record.result["event"]
    S3EventNotificationEventBridgeModel(**event)
    assert event["detail-type"] == "Object Created" and event["source"] == "aws.s3"
    assert event["resources"] == [f"arn:aws:s3:::{bucket}"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    detail = event["detail"]
    assert set(detail) == {
        "version",
        "bucket",
        "object",
        "request-id",
        "requester",
        "source-ip-address",
        "reason",
    }
    assert detail["bucket"] == {"name": bucket} and detail["reason"] == "PutObject"
    assert detail["object"]["key"] == "photos/cat.jpg" and detail["object"]["size"] == 5
    assert detail["object"]["etag"] == "827ccb0eea8a706c4c34a16891f84e7b"  # MD5 of 12345
    assert re.fullmatch(r"[0-9A-F]{16}", detail["request-id"])
    assert re.fullmatch(r"[0-9A-F]+", detail["object"]["sequencer"])


@pytest.mark.parametrize(
    "pattern",
    [
        {"detail": {"total": [{"numeric": [">", "ten"]}]}},
        {"source": [{"bogus-operator": 1}]},
        {"source": [{"prefix": "a", "suffix": "b"}]},
    ],
)
def test_put_rule_refuses_a_pattern_eventbridge_refuses(sb, pattern):
    with pytest.raises(sb.client("events").exceptions.InvalidEventPatternException):
        sb.client("events").put_rule(Name=unique("bad"), EventPattern=json.dumps(pattern))


def test_test_event_pattern_answers_as_the_delivery_matches(sb):
    events = sb.client("events")
    event = {
        "id": "1",
        "source": "shop",
        "detail-type": "Order",
        "account": "123456789012",
        "time": "2026-12-07T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"items": [{"sku": "a"}, {"sku": "b", "qty": 9}]},
    }

    def test(pattern) -> bool:
        return events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"]

    assert test({"detail": {"items": {"qty": [{"numeric": [">", 5]}]}}}) is True
    assert test({"detail": {"items": {"sku": [{"wildcard": "c*"}]}}}) is False


def test_an_sns_target_publishes_the_event_to_the_topic(sb):
    url, queue_arn = new_queue(sb)
    sns = sb.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    source = unique("com.shop")
    rule(sb, {"source": [source]}, [{"Id": "topic", "Arn": topic, "InputPath": "$.detail"}])
    put(sb, source, {"via": "sns"})  # moto's own delivery to an SNS target answered PutEvents with a 500
    message = eventually(
        lambda: sb.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"),
        what="the event through the topic",
    )
    assert [json.loads(m["Body"]) for m in message] == [{"via": "sns"}]


def test_a_target_the_sandbox_does_not_deliver_to_is_counted_and_shown(sb):
    source = unique("com.shop")
    stream = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
    arn = rule(sb, {"source": [source]}, [{"Id": "stream", "Arn": stream}])
    put(sb, source, {"n": 1})
    settle(sb)
    (trigger,) = [t for t in bridge(sb).triggers() if t["source"].endswith(arn.rsplit("/", 1)[-1])]
    assert trigger["state"] == "Not delivered by the sandbox"
    assert "1 event(s) not delivered" in trigger["faults"]


def test_a_change_to_a_rule_applies_to_the_next_event(sb):
    events = sb.client("events")
    url, queue_arn = new_queue(sb)
    source = unique("com.shop")
    arn = rule(sb, {"source": [source]}, [{"Id": "q", "Arn": queue_arn}])
    name = arn.rsplit("/", 1)[-1]

    def bodies() -> list:
        settle(sb)
        got = sb.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for m in got:
            sb.client("sqs").delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"])["detail"]["n"] for m in got]

    put(sb, source, {"n": 1})
    assert bodies() == [1]
    events.disable_rule(Name=name)
    put(sb, source, {"n": 2})
    assert bodies() == []
    events.enable_rule(Name=name)
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [source], "detail": {"n": [3]}}))
    put(sb, source, {"n": 4})
    put(sb, source, {"n": 3})
    assert bodies() == [3]
    events.remove_targets(Rule=name, Ids=["q"])
    put(sb, source, {"n": 3})
    assert bodies() == []


def test_run_local_triggers_lists_pattern_rules_with_what_they_matched(sb):
    import subprocess
    import sys

    from helpers.paths import PROJECT_ROOT

    source = unique("com.shop")
    arn = rule(sb, {"source": [source]}, [{"Id": "fn", "Arn": function_arn(sb)}])
    put(sb, source, {"n": 1})
    finished(sb, arn)
    printed = subprocess.run(
        [sys.executable, "run_local.py", "triggers", "--endpoint-url", sb.endpoint_url],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    name = arn.rsplit("/", 1)[-1]
    assert f"EventBridge rule   eventbridge:default/{name}" in printed.stdout, printed.stdout
    assert f'pattern {{"source": ["{source}"]}}; 1 matched, 1 delivered' in printed.stdout, printed.stdout
