"""SNS topics delivering to their subscriptions, through the real parts: a running sandbox over HTTP, the
AWS CLI and boto3. A function subscribed to a topic is invoked asynchronously, once per message, with
the event AWS sends (compared with AWS's reference events, valid under Powertools' SnsModel); a queue
gets SNS's envelope, or the message itself with raw delivery; filter policies on attributes and on the
body decide who gets what; S3 publishes its events to a topic; a delivery the sandbox cannot make is
counted and shown, never dropped silently.

The function (tests/handlers/scheduled) returns the event it got.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
from aws_lambda_powertools.utilities.parser.models import SnsModel, SnsNotificationModel, SqsModel

from helpers.aws_cli import aws_cli
from helpers.event_shapes import FORMATS, check_formats, compare, reference
from helpers.paths import HANDLERS, PROJECT_ROOT
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually

SNS_FORMATS = {
    "Records[]/Sns/MessageId": "uuid",
    "Records[]/Sns/Timestamp": "iso-ms-z",
    "Records[]/Sns/Signature": "base64",
}


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


def new_topic(sb) -> str:
    return sb.client("sns").create_topic(Name=unique("topic"))["TopicArn"]


def new_queue(sb) -> tuple[str, str]:
    sqs = sb.client("sqs")
    url = sqs.create_queue(QueueName=unique("queue"))["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def subscribe(sb, topic: str, protocol: str, endpoint: str, **attributes) -> str:
    return sb.client("sns").subscribe(
        TopicArn=topic,
        Protocol=protocol,
        Endpoint=endpoint,
        Attributes={k: v if isinstance(v, str) else json.dumps(v) for k, v in attributes.items()},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]


def sns_records(sb, message_id: str) -> list:
    return [r for r in sb.records.all() if r.trigger == "sns" and r.subject.get("message_id") == message_id]


def invoked_once(sb, message_id: str):
    """The one finished invocation for a message; a second one would show within the settle time."""
    record = eventually(
        lambda: [r for r in sns_records(sb, message_id) if r.final],
        what=f"the invocation for message {message_id}",
    )[0]
    time.sleep(0.5)
    assert len(sns_records(sb, message_id)) == 1, "the message was delivered more than once"
    return record


def drain(sb, url: str, expected: int, timeout: float = 60) -> list[dict]:
    """Every message of a queue (received and deleted) once ``expected`` have arrived, then 0.5 s more."""
    sqs, found = sb.client("sqs"), []
    deadline = time.monotonic() + timeout
    quiet_until = None
    while time.monotonic() < deadline:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        for message in got:
            found.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if len(found) >= expected:
            quiet_until = quiet_until or time.monotonic() + 0.5
            if time.monotonic() >= quiet_until:
                return found
        if not got:
            time.sleep(0.05)
    return found


# -- Lambda subscriptions ------------------------------------------------------------------------
def test_a_published_message_invokes_the_function_once_with_the_event_aws_sends(sb):
    topic = new_topic(sb)
    subscription = subscribe(sb, topic, "lambda", function_arn(sb))
    published = aws_cli(sb)(
        "sns",
        "publish",
        "--topic-arn",
        topic,
        "--subject",
        "TestInvoke",
        "--message",
        "Hello from SNS!",
        "--message-attributes",
        json.dumps(
            {
                "Test": {"DataType": "String", "StringValue": "TestString"},
                "TestBinary": {"DataType": "Binary", "BinaryValue": "TestBinary"},  # CLI v1: the bytes
            }
        ),
    )
    assert published.returncode == 0, published.stderr
    message_id = json.loads(published.stdout)["MessageId"]

    record = invoked_once(sb, message_id)
    assert record.invocation_type == "Event" and record.status.value == "success"
    event = record.result["event"]  # what the function got
    assert event == record.event
    SnsModel.model_validate(event)
    assert compare(event, reference("sns.powertools.json"), (reference("sns.lambda-go.json"),)) == []
    assert check_formats(event, SNS_FORMATS) == []
    sns = event["Records"][0]["Sns"]
    assert event["Records"][0]["EventSubscriptionArn"] == subscription
    assert (sns["TopicArn"], sns["MessageId"], sns["Subject"], sns["Message"]) == (
        topic,
        message_id,
        "TestInvoke",
        "Hello from SNS!",
    )
    assert sns["MessageAttributes"] == {
        "Test": {"Type": "String", "Value": "TestString"},
        "TestBinary": {"Type": "Binary", "Value": "VGVzdEJpbmFyeQ=="},  # base64, as AWS writes it
    }
    assert sns["SigningCertUrl"].startswith("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-")
    assert sns["UnsubscribeUrl"].endswith(f"&SubscriptionArn={subscription}")
    assert record.summary == f"{topic.rsplit(':', 1)[-1]}: message {message_id}"


def test_without_a_subject_or_attributes_the_event_has_subject_null_and_empty_attributes(sb):
    topic = new_topic(sb)
    subscribe(sb, topic, "lambda", function_arn(sb))
    message_id = sb.client("sns").publish(TopicArn=topic, Message="plain")["MessageId"]
    sns = invoked_once(sb, message_id).event["Records"][0]["Sns"]
    assert sns["Subject"] is None and sns["MessageAttributes"] == {}
    SnsModel.model_validate(invoked_once(sb, message_id).event)


def test_a_filter_policy_on_attributes_keeps_other_messages_from_the_function(sb):
    topic = new_topic(sb)
    subscribe(sb, topic, "lambda", function_arn(sb), FilterPolicy={"size": ["big"]})
    sns = sb.client("sns")

    def publish(size):
        return sns.publish(
            TopicArn=topic,
            Message=size,
            MessageAttributes={"size": {"DataType": "String", "StringValue": size}},
        )["MessageId"]

    small, big = publish("small"), publish("big")
    invoked_once(sb, big)
    assert sns_records(sb, small) == []


def test_json_message_structure_gives_the_function_its_own_message(sb):
    topic = new_topic(sb)
    subscribe(sb, topic, "lambda", function_arn(sb))
    message_id = sb.client("sns").publish(
        TopicArn=topic,
        MessageStructure="json",
        Message=json.dumps({"default": "for everyone", "lambda": "for functions"}),
    )["MessageId"]
    assert invoked_once(sb, message_id).event["Records"][0]["Sns"]["Message"] == "for functions"


def test_a_subscription_to_a_missing_function_is_counted_and_told(sb):
    topic = new_topic(sb)
    missing = function_arn(sb).replace(sb.function.function_name, "NoSuchFunction")
    subscribe(sb, topic, "lambda", missing)
    sb.client("sns").publish(TopicArn=topic, Message="lost?")
    name = topic.rsplit(":", 1)[-1]
    trigger = eventually(
        lambda: [
            t for t in sb.triggers() if t["source"] == f"sns:{name}" and "1 given up" in t.get("faults", "")
        ],
        what="the fault on the topic's trigger",
        timeout=30,
    )[0]
    assert "failed to make" in trigger["faults"]


def test_messages_to_protocols_the_sandbox_does_not_deliver_are_counted(sb):
    topic = new_topic(sb)
    sb.client("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint="someone@example.com")
    sb.client("sns").publish(TopicArn=topic, Message="mail me")
    name = topic.rsplit(":", 1)[-1]
    trigger = eventually(
        lambda: [t for t in sb.triggers() if t["source"] == f"sns:{name}" and t.get("faults")],
        what="the email subscription's count",
    )[0]
    assert "1 message(s) not delivered" in trigger["faults"] and trigger["state"] != "Enabled"


# -- SQS subscriptions ---------------------------------------------------------------------------
def test_a_queue_gets_the_sns_envelope_without_raw_delivery(sb):
    topic = new_topic(sb)
    url, arn = new_queue(sb)
    subscription = subscribe(sb, topic, "sqs", arn)
    message_id = sb.client("sns").publish(
        TopicArn=topic,
        Message='{"message": "hello world"}',
        Subject="greeting",
        MessageAttributes={"n": {"DataType": "Number", "StringValue": "7"}},
    )["MessageId"]
    (message,) = drain(sb, url, 1)
    body = message["Body"]
    assert body.startswith('{\n  "Type" : "Notification",\n  "MessageId" : ')  # AWS's layout
    envelope = json.loads(body)
    SnsNotificationModel.model_validate(json.loads(json.dumps(envelope)))  # it renames keys in place
    ref = json.loads(reference("sns-sqs.powertools.json")["Records"][0]["body"])
    assert set(ref) <= set(envelope) and set(envelope) - set(ref) == {"Subject", "MessageAttributes"}
    assert envelope["MessageId"] == message_id and envelope["Message"] == '{"message": "hello world"}'
    assert envelope["MessageAttributes"] == {"n": {"Type": "Number", "Value": "7"}}
    assert envelope["UnsubscribeURL"].endswith(subscription) and FORMATS["base64"](envelope["Signature"])
    assert "MessageAttributes" not in message  # the attributes are in the envelope, not on the message


def test_raw_delivery_sends_the_message_itself_with_its_attributes(sb):
    topic = new_topic(sb)
    url, arn = new_queue(sb)
    subscribe(sb, topic, "sqs", arn, RawMessageDelivery="true")
    sb.client("sns").publish(
        TopicArn=topic,
        Message="just the text",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "note"},
            "n": {"DataType": "Number", "StringValue": "7"},
        },
    )
    (message,) = drain(sb, url, 1)
    assert message["Body"] == "just the text"
    assert message["MessageAttributes"] == {
        "kind": {"StringValue": "note", "DataType": "String"},
        "n": {"StringValue": "7", "DataType": "Number"},
    }


def test_filter_policies_on_the_body_and_on_attributes_split_the_messages(sb):
    topic = new_topic(sb)
    body_url, body_arn = new_queue(sb)
    attr_url, attr_arn = new_queue(sb)
    subscribe(
        sb,
        topic,
        "sqs",
        body_arn,
        RawMessageDelivery="true",
        FilterPolicyScope="MessageBody",
        FilterPolicy={"order": {"total": [{"numeric": [">", 100]}]}},
    )
    subscribe(sb, topic, "sqs", attr_arn, RawMessageDelivery="true", FilterPolicy={"rush": ["yes"]})
    sns = sb.client("sns")
    for total, rush in ((50, "yes"), (150, "no"), (250, "yes")):
        sns.publish(
            TopicArn=topic,
            Message=json.dumps({"order": {"total": total}}),
            MessageAttributes={"rush": {"DataType": "String", "StringValue": rush}},
        )
    assert sorted(json.loads(m["Body"])["order"]["total"] for m in drain(sb, body_url, 2)) == [150, 250]
    assert sorted(json.loads(m["Body"])["order"]["total"] for m in drain(sb, attr_url, 2)) == [50, 250]


def test_a_queue_subscribed_to_a_topic_feeds_its_function_through_the_mapping(sb):
    topic = new_topic(sb)
    url, arn = new_queue(sb)
    subscribe(sb, topic, "sqs", arn)
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name, EventSourceArn=arn, BatchSize=1
    )
    message_id = sb.client("sns").publish(TopicArn=topic, Message="through a queue")["MessageId"]

    def polled():
        return [
            r
            for r in sb.records.all()
            if r.trigger == "sqs" and r.final and message_id in json.dumps(r.event)
        ]

    record = eventually(polled, what="the queue's invocation")[0]
    SqsModel.model_validate(record.event)
    envelope = json.loads(record.event["Records"][0]["body"])
    SnsNotificationModel.model_validate(json.loads(json.dumps(envelope)))  # it renames keys in place
    assert envelope["MessageId"] == message_id and envelope["Message"] == "through a queue"


# -- S3 -> SNS -----------------------------------------------------------------------------------
def test_s3_publishes_a_test_event_and_then_its_events_to_a_topic(sb):
    topic = new_topic(sb)
    subscribe(sb, topic, "lambda", function_arn(sb))
    s3, bucket = sb.client("s3"), unique("bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "TopicConfigurations": [{"Id": "to-topic", "TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]
        },
    )

    def messages():
        return [
            r.event["Records"][0]["Sns"]
            for r in sb.records.all()
            if r.trigger == "sns" and r.final and r.subject.get("topic") == topic
        ]

    test_event = eventually(messages, what="the s3:TestEvent")[0]
    assert json.loads(test_event["Message"])["Event"] == "s3:TestEvent"
    assert test_event["Subject"] == "Amazon S3 Notification"

    s3.put_object(Bucket=bucket, Key="photos/cat.jpg", Body=b"meow")
    found = eventually(lambda: [m for m in messages() if "aws:s3" in m["Message"]], what="the S3 event")
    time.sleep(0.5)
    assert len([m for m in messages() if "aws:s3" in m["Message"]]) == 1
    s3_event = json.loads(found[0]["Message"])
    record = s3_event["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put" and record["s3"]["object"]["key"] == "photos/cat.jpg"
    assert record["s3"]["configurationId"] == "to-topic" and found[0]["Subject"] == "Amazon S3 Notification"
    assert compare(s3_event, reference("s3-put.powertools.json")) == []


# -- triggers ------------------------------------------------------------------------------------
def test_the_triggers_list_each_subscription_with_its_filter_and_counts(sb):
    topic = new_topic(sb)
    url, arn = new_queue(sb)
    subscribe(sb, topic, "sqs", arn, RawMessageDelivery="true", FilterPolicy={"size": ["big"]})
    subscribe(sb, topic, "lambda", function_arn(sb))
    sb.client("sns").publish(TopicArn=topic, Message="x")
    name = topic.rsplit(":", 1)[-1]

    def listed():
        return sorted(
            (t["detail"] for t in sb.triggers() if t["source"] == f"sns:{name}"),
            key=lambda d: "sqs" in d,
        )

    details = eventually(
        lambda: listed(), lambda d: len(d) == 2 and "1 filtered out" in d[1], what="triggers"
    )
    assert details[0] == f"-> function {sb.function.function_name}; 1 delivered"
    assert details[1] == (
        f'-> sqs {arn.rsplit(":", 1)[-1]}; raw delivery; filter policy on attributes {{"size":["big"]}}; '
        "0 delivered, 1 filtered out"
    )
    printed = subprocess.run(
        [sys.executable, "run_local.py", "triggers", "--endpoint-url", sb.endpoint_url],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    assert f"SNS subscription   sns:{name}" in printed.stdout
    assert "filter policy on attributes" in printed.stdout


def test_publish_batch_delivers_each_entry_once(sb):
    topic = new_topic(sb)
    url, arn = new_queue(sb)
    subscribe(sb, topic, "sqs", arn, RawMessageDelivery="true")
    answer = sb.client("sns").publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[{"Id": str(i), "Message": f"entry {i}"} for i in range(10)],
    )
    assert len(answer["Successful"]) == 10
    assert sorted(m["Body"] for m in drain(sb, url, 10)) == sorted(f"entry {i}" for i in range(10))


def test_a_fifo_topic_delivers_to_a_fifo_queue_in_order_with_its_group(sb):
    sns, sqs = sb.client("sns"), sb.client("sqs")
    topic = sns.create_topic(
        Name=unique("orders") + ".fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"}
    )["TopicArn"]
    url = sqs.create_queue(
        QueueName=unique("orders") + ".fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscribe(sb, topic, "sqs", arn, RawMessageDelivery="true")
    for i in range(5):
        sns.publish(TopicArn=topic, Message=f"step {i}", MessageGroupId="order-1")
    received = []
    while len(received) < 5:
        got = eventually(
            lambda: sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"]
            ).get("Messages", []),
            what="the FIFO queue's messages",
        )
        for message in got:
            received.append((message["Body"], message["Attributes"]["MessageGroupId"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert received == [(f"step {i}", "order-1") for i in range(5)]
