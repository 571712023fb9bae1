"""Benchmark of SNS fan-out (``run_local.py bench --only sns``): a burst of 1,000 messages published to a
topic with two subscriptions, a function and a queue. Every message must reach each exactly once
(counted by message id): none lost, none twice. Figures: the publish rate, the time until the last
delivery, and the deliveries per second."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

from sandbox.config import FunctionConfiguration, SandboxConfig

NOOP = Path(__file__).resolve().parent / "handlers" / "noop"
PUBLISHERS = 4  # threads publishing at once, each with its own client


def _line(label, value, goal=""):
    print(f"  {label:<58} {value:>14}  {goal}")


def fan_out(sb, count: int = 1000, timeout: float = 300.0) -> dict:
    """Publish ``count`` messages to a new topic with a function and a queue subscribed, and count what
    each received, by message id. The sandbox ``sb`` is running; its default function is subscribed."""
    sns, sqs = sb.client("sns"), sb.client("sqs")
    stamp = f"{time.time_ns():x}"
    topic = sns.create_topic(Name=f"bench-fanout-{stamp}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"bench-fanout-{stamp}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    function = sb.function.function_name
    function_arn = sb.client("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    published: list[str] = []
    lock = threading.Lock()

    def publish(share: range) -> None:
        client = sb.client("sns")
        for i in share:
            message_id = client.publish(TopicArn=topic, Message=json.dumps({"n": i}))["MessageId"]
            with lock:
                published.append(message_id)

    started = time.perf_counter()
    threads = [
        threading.Thread(target=publish, args=(range(k, count, PUBLISHERS),)) for k in range(PUBLISHERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    publish_s = time.perf_counter() - started

    queued: Counter = Counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sum(queued.values()) < count:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            queued[json.loads(message["Body"])["MessageId"]] += 1
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    queue_s = time.perf_counter() - started

    def invoked() -> Counter:
        return Counter(
            r.subject.get("message_id")
            for r in sb.records.all()
            if r.trigger == "sns" and r.subject.get("topic") == topic and r.attempt == 1
        )

    while time.monotonic() < deadline:
        finished = [r for r in sb.records.all() if r.trigger == "sns" and r.subject.get("topic") == topic]
        if len(finished) >= count and all(r.final for r in finished):
            break
        time.sleep(0.05)
    function_s = time.perf_counter() - started
    time.sleep(1.0)  # a late duplicate would show now
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        queued[json.loads(message["Body"])["MessageId"]] += 1
    calls = invoked()
    ids = set(published)
    return {
        "messages": count,
        "publish_per_s": count / publish_s,
        "queue_done_s": queue_s,
        "function_done_s": function_s,
        "deliveries_per_s": 2 * count / max(queue_s, function_s),
        "queue_lost": len(ids - set(queued)),
        "queue_twice": sum(1 for n in queued.values() if n > 1),
        "queue_unknown": len(set(queued) - ids),
        "function_lost": len(ids - set(calls)),
        "function_twice": sum(1 for n in calls.values() if n > 1),
        "function_failed": sum(
            1
            for r in sb.records.all()
            if r.trigger == "sns" and r.subject.get("topic") == topic and r.error_type
        ),
    }


def print_figures(figures: dict) -> None:
    n = figures["messages"]
    _line(f"{n} publishes from {PUBLISHERS} threads", f"{figures['publish_per_s']:.0f} /s")
    _line("all delivered to the queue after", f"{figures['queue_done_s']:.1f} s")
    _line("all delivered to the function (finished) after", f"{figures['function_done_s']:.1f} s")
    _line("deliveries (queue + function)", f"{figures['deliveries_per_s']:.0f} /s")
    _line(
        "lost / twice: queue, function",
        f"{figures['queue_lost']}/{figures['queue_twice']}, "
        f"{figures['function_lost']}/{figures['function_twice']}",
        "goal 0/0, 0/0",
    )


def run(count: int = 1000) -> dict:
    from sandbox.core import Sandbox

    with Sandbox(
        SandboxConfig(port=0, web_port=None), FunctionConfiguration(code_dir=NOOP, timeout=10)
    ) as sb:
        figures = fan_out(sb, count)
    print_figures(figures)
    return figures
