"""examples/sns-fanout: what `--example sns-fanout` sets up, driven as its README says: every order
reaches the function, only the big ones reach the queue, as published (raw delivery)."""

from __future__ import annotations

import json

import pytest

from helpers.aws_cli import aws_cli
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually
from sandbox.guide.example_setups import set_up
from sandbox.guide.example_setups.sns_fanout import FUNCTION, QUEUE, TOPIC

pytestmark = pytest.mark.slow


def test_the_function_gets_every_order_and_the_queue_only_the_big_ones_as_published():
    sb = start_sandbox()
    try:
        lines = set_up(sb, ["sns-fanout"])
        assert any(f"topic {TOPIC} -> {FUNCTION}" in line for line in lines)
        cli = aws_cli(sb)
        topic = json.loads(cli("sns", "create-topic", "--name", TOPIC).stdout)["TopicArn"]
        for item, size in (("poster", "big"), ("pin", "small")):
            published = cli(
                "sns",
                "publish",
                "--topic-arn",
                topic,
                "--message",
                json.dumps({"item": item, "size": size}),
                "--message-attributes",
                json.dumps({"size": {"DataType": "String", "StringValue": size}}),
            )
            assert published.returncode == 0, published.stderr
        orders = eventually(
            lambda: [
                r.result["orders"][0]["order"]["item"]
                for r in sb.records.all()
                if r.function_name == FUNCTION and r.final and r.status.value == "success"
            ],
            lambda found: len(found) == 2,
            what="both orders at the function",
        )
        assert sorted(orders) == ["pin", "poster"]
        url = sb.sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
        messages = sb.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        (message,) = messages["Messages"]
        assert json.loads(message["Body"]) == {"item": "poster", "size": "big"}
        assert message["MessageAttributes"]["size"]["StringValue"] == "big"
    finally:
        sb.stop()
