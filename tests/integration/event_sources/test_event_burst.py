"""A burst of 1,000 stream records and one of 1,000 queue messages, with binary attributes and failures
mixed in, through the real parts: every record is delivered to the function or lands in the failure
destination (the mapping's on-failure destination, the queue's dead-letter queue), none is lost, none is
both. Prints the time each burst took and its records per second (the function at full CPU). Slow: run
with ``-m slow``."""

from __future__ import annotations

import json
import time

import pytest

from helpers.event_source_mappings import new_queue, new_table
from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually

BURST = 1000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "batches", timeout=3)  # a queue may then have a 3 s visibility timeout
    sandbox.set_full_cpu(True)  # what is counted is records, not the function's speed at its CPU share
    yield sandbox
    sandbox.stop()


class Drain:
    """Every message of a queue, read and deleted (the function's reports, a DLQ)."""

    def __init__(self, sb, url: str, attributes: bool = False):
        self.sqs, self.url, self.got = sb.client("sqs"), url, []
        self.attributes = {"MessageAttributeNames": ["All"]} if attributes else {}

    def __call__(self) -> list[dict]:
        """The messages that arrived since the last call."""
        new = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, **self.attributes
            ).get("Messages", [])
            if not messages:
                self.got.extend(new)
                return new
            new.extend(messages)
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


def report(what: str, started: float, count: int, sent: float) -> None:
    took = time.monotonic() - started
    print(
        f"\n{what}: {count} records written in {sent - started:.1f} s, all accounted for (delivered or in "
        f"the failure destination) {took:.1f} s after the first write ({count / took:.0f} records/s)"
    )


def test_a_stream_burst_loses_no_record(sb):
    table, stream, _ = new_table(sb)
    failure_url, failure_arn, _ = new_queue(sb)
    seen = Drain(sb, sb.client("sqs").get_queue_url(QueueName=f"{table}-seen")["QueueUrl"])
    failures = Drain(sb, failure_url)
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=100,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    dynamodb = sb.client("dynamodb")
    keys = [f"k{i:04d}" for i in range(BURST)]
    poison = set(keys[::97])  # about 1 in 100 fails its batch
    started = time.monotonic()
    for start in range(0, BURST, 25):  # BatchWriteItem's most: each item is its own stream record
        writes = {
            table: [
                {
                    "PutRequest": {
                        "Item": {
                            "id": {"S": key},
                            "blob": {"B": key.encode() + b"\x00\xff"},
                            "text": {"S": "fail" if key in poison else "fine"},
                        }
                    }
                }
                for key in keys[start : start + 25]
            ]
        }
        while writes:
            writes = dynamodb.batch_write_item(RequestItems=writes).get("UnprocessedItems")
    sent = time.monotonic()
    key_of: dict[str, str] = {}  # sequence number -> key, from every batch the function saw
    delivered, ranges = [], []

    def accounted():
        for message in seen():
            body = json.loads(message["Body"])
            images = [json.loads(t) for t in body["batch"]]
            key_of.update((n, image["id"]["S"]) for n, image in zip(body["ids"], images))
            if not any(image["text"]["S"] == "fail" for image in images):
                delivered.extend(image["id"]["S"] for image in images)
        for message in failures():
            info = json.loads(message["Body"])["DDBStreamBatchInfo"]
            ranges.append((int(info["startSequenceNumber"]), int(info["endSequenceNumber"])))
        skipped = [k for n, k in key_of.items() if any(low <= int(n) <= high for low, high in ranges)]
        return delivered, skipped

    delivered, skipped = eventually(
        accounted,
        lambda found: len(found[0]) + len(found[1]) >= BURST,
        timeout=240,
        interval=0.5,
        what="every record delivered or skipped",
    )
    report("stream burst", started, BURST, sent)
    assert sorted(delivered + skipped) == keys  # each record once: delivered, or in the on-failure record
    assert set(skipped) == poison


def test_a_queue_burst_loses_no_message(sb):
    sqs = sb.client("sqs")
    dlq_url, dlq_arn, _ = new_queue(sb)
    url, arn, _ = new_queue(
        sb, visibility=3, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    )
    seen = Drain(sb, sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1] + "-seen")["QueueUrl"])
    dead = Drain(sb, dlq_url)
    bodies = [
        f"m{i:04d} " + ("partial" if i % 50 == 7 else "stranger" if i % 200 == 3 else "fine")
        for i in range(BURST)
    ]
    started = time.monotonic()
    for start in range(0, BURST, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": body,
                    "MessageAttributes": {
                        "blob": {"DataType": "Binary", "BinaryValue": body.encode() + b"\x00\xff"}
                    },
                }
                for i, body in enumerate(bodies[start : start + 10])
            ],
        )
    sent = time.monotonic()
    sb.client("lambda").create_event_source_mapping(
        FunctionName=sb.function.function_name,
        EventSourceArn=arn,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    delivered, dead_letters = [], []

    def accounted():
        for message in seen():
            records = json.loads(message["Body"])["event"]["Records"]
            if not any("stranger" in r["body"] for r in records):
                delivered.extend(r["body"] for r in records if "partial" not in r["body"])
        dead_letters.extend(dead())
        return delivered, dead_letters

    eventually(
        accounted,
        lambda found: len(found[0]) + len(found[1]) >= BURST,
        timeout=240,
        interval=0.5,
        what="every message delivered or dead-lettered",
    )
    report("queue burst", started, BURST, sent)
    dead_bodies = [m["Body"] for m in dead_letters]
    assert sorted(delivered + dead_bodies) == bodies  # each message once: delivered, or in the DLQ
    assert set(dead_bodies) >= {b for b in bodies if "partial" in b or "stranger" in b}
