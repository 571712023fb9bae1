"""Killed with SIGKILL in the middle of a burst, restarted on the same state directory: every acknowledged
write is there, every event ran at least once, nothing restored fired again, the history is intact.

Through the real parts: ``run_local.py --state-dir`` in its own process with the queue and stream
examples (S3 -> Lambda, S3 -> SQS -> Lambda, DynamoDB stream -> Lambda), boto3 as the client, and the
sandbox's own ``/_sandbox/invocations`` for the history the page shows."""

from __future__ import annotations

import json
import signal
import threading
import urllib.request
from collections import Counter

import boto3
import pytest

from helpers.paths import SAMPLES
from helpers.processes import RunningSandbox
from helpers.waiting import eventually

SOURCE, RESIZED = "source-image-bucket123", "resized-image-bucket123"
QUEUED = (
    "queued-image-bucket123"  # sandbox/guide/example_setups/queue.py: S3 -> SQS -> ImageResizeQueueLambda
)
TABLE = "image-captions"  # sandbox/guide/example_setups/stream.py: the stream writes captions/<key>.txt

pytestmark = pytest.mark.slow


def _client(service, url):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _history(url) -> list[dict]:
    """Every attempt, newest first, as the page's history shows it."""
    with urllib.request.urlopen(f"{url}/_sandbox/invocations") as response:
        return json.load(response)["invocations"]


def _start(state_dir):
    return RunningSandbox(
        "--state-dir", str(state_dir), "--example", "queue", "--example", "stream", "--full-cpu", "--quiet"
    )


def test_sigkill_mid_burst_loses_nothing_acknowledged_and_fires_nothing_restored_again(tmp_path):
    image = (SAMPLES / "test.jpg").read_bytes()
    first = _start(tmp_path)
    acknowledged: dict[str, list] = {"source": [], "queued": [], "captions": []}
    lock = threading.Lock()
    stop = threading.Event()

    def burst(kind):
        s3, ddb = _client("s3", first.url), _client("dynamodb", first.url)
        for n in range(400):
            if stop.is_set():
                return
            key = f"{kind}-{n:03d}.jpg"
            try:
                if kind == "source":
                    s3.put_object(
                        Bucket=SOURCE, Key=key, Body=image, ContentType="image/jpeg", Metadata={"n": str(n)}
                    )
                elif kind == "queued":
                    s3.put_object(Bucket=QUEUED, Key=key, Body=image, ContentType="image/jpeg")
                else:
                    ddb.put_item(TableName=TABLE, Item={"key": {"S": key}, "caption": {"S": f"caption {n}"}})
            except Exception:
                return  # the sandbox died under this request: not acknowledged
            with lock:
                acknowledged[kind].append(key)

    workers = [threading.Thread(target=burst, args=(kind,)) for kind in acknowledged]
    for worker in workers:
        worker.start()
    eventually(
        lambda: min(len(v) for v in acknowledged.values()), lambda n: n >= 8, what="the burst under way"
    )
    before_kill = _history(first.url)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    stop.set()
    for worker in workers:
        worker.join(30)
    assert first.proc.returncode == -signal.SIGKILL

    second = _start(tmp_path)
    try:
        assert "restored" in second.banner and str(tmp_path) in second.banner
        s3 = _client("s3", second.url)
        # every acknowledged object, with its content, content type and metadata
        for key in acknowledged["source"]:
            obj = s3.get_object(Bucket=SOURCE, Key=key)
            assert obj["Body"].read() == image and obj["ContentType"] == "image/jpeg"
            assert obj["Metadata"] == {"n": str(int(key.split("-")[1][:3]))}
        for key in acknowledged["queued"]:
            assert s3.head_object(Bucket=QUEUED, Key=key)["ContentLength"] == len(image)

        # every event processed at least once: each upload resized (directly, or through the queue), each
        # caption written by the stream's function
        def missing():
            have = set()
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=RESIZED):
                have |= {o["Key"] for o in page.get("Contents", [])}
            wanted = {f"resized-{k}" for k in acknowledged["source"] + acknowledged["queued"]}
            wanted |= {f"captions/{k}.txt" for k in acknowledged["captions"]}
            return sorted(wanted - have)

        eventually(
            missing,
            lambda left: not left,
            what="every acknowledged event processed",
            timeout=180,
            interval=0.5,
        )

        # no S3 event fired again for a restored object: one request id per uploaded key (a resumed event
        # keeps its request id, as a retry does)
        history = _history(second.url)
        per_key = Counter()
        for request_id in {
            (r.get("key"), r["request_id"])
            for r in history
            if r.get("function_name") == "ImageResizeLambda" and r.get("key")
        }:
            per_key[request_id[0]] += 1
        assert per_key and max(per_key.values()) == 1, per_key.most_common(3)
        # every acknowledged upload ran; so may one the sandbox stored but died before answering
        assert set(acknowledged["source"]) <= set(per_key)
        assert len(set(per_key) - set(acknowledged["source"])) <= 1

        # the page's history: everything seen before the kill is still there, with its outcome
        after = {r["id"]: r for r in history}
        for record in before_kill:
            assert record["id"] in after
            if record.get("final"):
                assert after[record["id"]]["status"] == record["status"]

        # the stream kept its order across the restart: in the order batches succeeded, each record comes
        # after the ones before it (a batch in flight at the kill may come again: at least once)
        batches = sorted(
            (
                r
                for r in history
                if r.get("function_name") == "ImageCaptionsLambda" and r["status"] == "success"
            ),
            key=lambda r: r["started_at"],
        )
        seen, order = set(), []
        for batch in batches:
            numbers = [int(rec["dynamodb"]["SequenceNumber"]) for rec in batch["event"]["Records"]]
            assert numbers == sorted(numbers)
            order += [n for n in numbers if n not in seen]
            seen |= set(numbers)
        assert order == sorted(order) and len(order) >= len(acknowledged["captions"])
    finally:
        second.stop()
