"""Benchmarks of the polled event sources (``run_local.py bench --only mappings``):

- SQS send -> handler start, and DynamoDB write -> handler start, p50 (goal <= 300 ms each);
- a burst of 1,000 queue messages and 1,000 stream records with poison ones mixed in: none lost, stream
  order per shard kept, every poison message in the queue's DLQ.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path

from sandbox.config import FunctionConfiguration, SandboxConfig
from sandbox.lambda_.invocation import InvocationStatus

PROBE = Path(__file__).resolve().parent / "handlers" / "batch_probe"
POISON_EVERY = 20  # 5 % of the burst


def _sandbox():
    from sandbox.core import Sandbox

    return Sandbox(
        SandboxConfig(port=0, web_port=None),
        FunctionConfiguration(code_dir=PROBE, timeout=1, reserved_concurrency=10),
    ).start()


def _wait(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.002)
    return None


def _queue(sb, name: str, **attributes) -> tuple[str, str]:
    sqs = sb.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "2", **attributes})["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _table(sb, name: str) -> str:
    return sb.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]


def _started(sb, trigger: str, count: int):
    return (
        [r for r in sb.invocations() if r.trigger == trigger and r.started_at][:count]
        if len([r for r in sb.invocations() if r.trigger == trigger and r.started_at]) >= count
        else None
    )


def latency(sb, samples: int = 20) -> dict:
    sqs, ddb, lam = sb.client("sqs"), sb.client("dynamodb"), sb.client("lambda")
    name = sb.function.function_name
    url, arn = _queue(sb, "bench-latency")
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
    stream = _table(sb, "bench-latency")
    lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream, StartingPosition="LATEST", BatchSize=1
    )
    time.sleep(0.5)  # the stream's first poll fixes LATEST
    figures = {}
    for trigger, send in (
        ("sqs", lambda i: sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")),
        ("dynamodb", lambda i: ddb.put_item(TableName="bench-latency", Item={"id": {"S": f"k{i}"}})),
    ):
        delays = []
        for i in range(samples):
            time.sleep(random.uniform(0, 0.3))  # writes land at any point of the pollers' cycle
            before = len([r for r in sb.invocations() if r.trigger == trigger])
            sent = time.time()
            send(i)
            record = _wait(
                lambda before=before, sent=sent, trigger=trigger: next(
                    (
                        r
                        for r in sb.invocations()[: max(1, len(sb.invocations()) - before)]
                        if r.trigger == trigger and r.started_at and r.started_at >= sent
                    ),
                    None,
                ),
                10,
            )
            if record is not None:
                delays.append((record.started_at - sent) * 1000)
            _wait(lambda record=record: record is None or record.final, 5)
        figures[f"{trigger}_to_start_p50_ms"] = statistics.median(delays) if delays else float("nan")
    return figures


def burst(sb, count: int = 1000) -> dict:
    sqs, ddb, lam = sb.client("sqs"), sb.client("dynamodb"), sb.client("lambda")
    name = sb.function.function_name
    dlq_url, dlq_arn = _queue(sb, "bench-burst-dlq")
    url, arn = _queue(
        sb, "bench-burst", RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    )
    skipped_url, skipped_arn = _queue(sb, "bench-burst-skipped")
    stream = _table(sb, "bench-burst")
    poison = {i for i in range(count) if i % POISON_EVERY == POISON_EVERY - 1}
    started = time.perf_counter()
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": f"{'poison' if i in poison else 'ok'} {i}"}
                for i in range(start, min(count, start + 10))
            ],
        )
    for i in range(count):
        ddb.put_item(
            TableName="bench-burst",
            Item={"id": {"S": f"{i:05d}"}, "text": {"S": "poison" if i in poison else "ok"}},
        )
    lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=100,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": skipped_arn}},
    )

    def delivered(trigger: str, field) -> list:
        return [
            field(r)
            for rec in sb.invocations()
            if rec.trigger == trigger
            and rec.status == InvocationStatus.SUCCESS
            and "bench-burst" in rec.summary
            for r in rec.event["Records"]
        ]

    def queue_done():
        counts = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        return (
            int(counts["Attributes"]["ApproximateNumberOfMessages"]) >= len(poison)
            and len(set(delivered("sqs", lambda r: r["body"]))) >= count
        )

    def stream_done():
        return len(
            {r for r in delivered("dynamodb", lambda r: r["dynamodb"]["Keys"]["id"]["S"])}
        ) >= count - len(poison)

    _wait(lambda: queue_done() and stream_done(), 180)
    seconds = time.perf_counter() - started
    bodies = set(delivered("sqs", lambda r: r["body"]))
    ok_sqs = {f"ok {i}" for i in range(count) if i not in poison}
    in_dlq = int(
        sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
    )
    keys = [k for k in delivered_in_order(sb)]
    ok_ddb = {f"{i:05d}" for i in range(count) if i not in poison}
    return {
        "seconds": seconds,
        "sqs_lost": len(ok_sqs - bodies),
        "sqs_poison_in_dlq": in_dlq,
        "poison": len(poison),
        "stream_lost": len(ok_ddb - set(keys)),
        "stream_in_order": keys == sorted(keys),
        "stream_skipped_batches": int(
            sqs.get_queue_attributes(QueueUrl=skipped_url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        ),
    }


def delivered_in_order(sb, table: str = "bench-burst") -> list[str]:
    """The table's successfully delivered keys, in the order the function received them."""
    records = sorted(
        (
            r
            for r in sb.invocations()
            if r.trigger == "dynamodb"
            and r.status == InvocationStatus.SUCCESS
            and r.subject.get("table") == table
        ),
        key=lambda r: r.started_at or 0,
    )
    return [item["dynamodb"]["Keys"]["id"]["S"] for r in records for item in r.event["Records"]]


def run() -> dict:
    sb = _sandbox()
    try:
        figures = latency(sb)
        figures["burst"] = burst(sb)
    finally:
        sb.stop()
    b = figures["burst"]
    print(
        f"  SQS send -> handler start, p50               {figures['sqs_to_start_p50_ms']:8.1f} ms   "
        "goal <= 300 ms"
    )
    print(
        f"  DynamoDB write -> handler start, p50         {figures['dynamodb_to_start_p50_ms']:8.1f} ms   "
        "goal <= 300 ms"
    )
    print(f"  burst of 1,000 messages + 1,000 records ({b['poison']} poison each): {b['seconds']:.1f} s")
    print(
        f"    queue: lost {b['sqs_lost']}, poison messages in the DLQ "
        f"{b['sqs_poison_in_dlq']}/{b['poison']}   goal 0 lost, all"
    )
    print(
        f"    stream: lost {b['stream_lost']}, order per shard kept: {b['stream_in_order']}, "
        f"skipped batches sent on failure {b['stream_skipped_batches']}   goal 0 lost, order kept"
    )
    return figures
