"""Lambda's execution semantics: retries, dead letters, throttling and scaling, loop detection,
metrics, hot reload, memory limits that are real."""
import datetime
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from sandbox.config import FunctionConfiguration, SandboxConfig
from sandbox.core import Sandbox

from conftest import HANDLERS, PROJECT_ROOT, SAMPLES, start_sandbox

SOURCE, DEST = "source-image-bucket123", "resized-image-bucket123"


def _final(sb, predicate, timeout=30):
    return sb.records.wait_for(predicate, timeout)


def test_failed_async_invocation_is_retried_twice_then_dead_lettered(tmp_path):
    sb = start_sandbox(HANDLERS / "faults")  # default: MaximumRetryAttempts 2, delays 1 s and 2 s
    try:
        record = sb.invoke_async({"action": "raise"})
        final = _final(sb, lambda r: r.request_id == record.request_id and r.status == "dead-lettered", 20)
        attempts = [r for r in sb.invocations() if r.request_id == record.request_id]
        assert final is not None and final.attempt == 3
        assert sorted(r.attempt for r in attempts) == [1, 2, 3]
        starts = sorted(r.started_at for r in attempts)
        assert starts[1] - starts[0] >= 0.9 and starts[2] - starts[1] >= 1.9  # AWS's order: 1 then 2 (minutes)
        env = dict(os.environ, **sb.client_environment())
        url = sb.sqs.get_queue_url(QueueName="ImageResizeLambda-dlq")["QueueUrl"]
        # AWS CLI v1 ignores AWS_ENDPOINT_URL for SQS (it pins queue.amazonaws.com): pass --endpoint-url.
        received = subprocess.run([sys.executable, "-m", "awscli", "sqs", "receive-message", "--queue-url", url,
                                   "--endpoint-url", sb.endpoint_url, "--visibility-timeout", "0",
                                   "--message-attribute-names", "All"], env=env, capture_output=True, text=True,
                                  timeout=60)
        message = json.loads(received.stdout)["Messages"][0]
        assert json.loads(message["Body"]) == {"action": "raise"}
        assert message["MessageAttributes"]["RequestID"]["StringValue"] == record.request_id
        assert "boom" in message["MessageAttributes"]["ErrorMessage"]["StringValue"]
        # redrive re-submits it (it fails again, being the same event)
        redriven = sb.redrive()
        assert [r.event for r in redriven] == [{"action": "raise"}]
    finally:
        sb.stop()


def test_on_failure_destination_receives_awss_invocation_record():
    sb = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0)
    try:
        queue_url = sb.sqs.create_queue(QueueName="failures")["QueueUrl"]
        arn = sb.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sb.client("lambda").put_function_event_invoke_config(
            FunctionName="ImageResizeLambda", MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": arn}})
        record = sb.invoke_async({"action": "raise"})
        assert _final(sb, lambda r: r.request_id == record.request_id and r.status == "dead-lettered", 15)
        deadline = time.time() + 5
        messages = []
        while time.time() < deadline and not messages:
            messages = sb.sqs.receive_message(QueueUrl=queue_url).get("Messages", [])
        body = json.loads(messages[0]["Body"])
        assert body["requestContext"]["condition"] == "RetriesExhausted"
        assert body["requestContext"]["requestId"] == record.request_id
        assert body["requestPayload"] == {"action": "raise"}
        assert body["responsePayload"]["errorType"] == "ValueError"
    finally:
        sb.stop()


def test_burst_fans_out_over_several_environments_and_throttled_events_are_not_lost():
    sb = start_sandbox(HANDLERS / "faults", reserved_concurrency=3, maximum_retry_attempts=0)
    try:
        records = [sb.invoke_async({"action": "sleep", "seconds": 0.3}) for _ in range(12)]
        ids = {r.request_id for r in records}
        done = lambda: [r for r in sb.invocations() if r.request_id in ids and r.status == "success"]
        deadline = time.time() + 30
        while time.time() < deadline and len(done()) < 12:
            time.sleep(0.1)
        finished = done()
        assert len(finished) == 12  # none lost
        environments = {r.environment_id for r in finished}
        assert 2 <= len(environments) <= 3  # fanned out, never past the reserved concurrency
        assert sb.runtime("ImageResizeLambda").environments_created <= 3
    finally:
        sb.stop()


def test_synchronous_invoke_beyond_concurrency_is_throttled():
    from sandbox.function_runtime import Throttled

    sb = start_sandbox(HANDLERS / "faults", reserved_concurrency=1)
    try:
        slow = threading.Thread(target=sb.invoke, args=({"action": "sleep", "seconds": 1},))
        slow.start()
        time.sleep(0.5)
        with pytest.raises(Throttled):
            sb.invoke({"action": "ok"})
        slow.join()
    finally:
        sb.stop()


def test_writing_into_the_triggering_bucket_stops_by_itself_after_16_invocations():
    sb = start_sandbox(HANDLERS / "loop", environment={"DESTINATION_BUCKET": SOURCE})
    try:
        sb.s3.put_object(Bucket=SOURCE, Key="seed.txt", Body=b"seed")
        dropped = _final(sb, lambda r: r.status == "dropped", 60)
        assert dropped is not None
        deadline = time.time() + 10  # the 16th invocation finishes just after its write was dropped
        while time.time() < deadline and len([r for r in sb.invocations() if r.status == "success"]) < 16:
            time.sleep(0.05)
        time.sleep(0.5)
        assert len([r for r in sb.invocations() if r.status == "success"]) == 16  # the loop has stopped
        sb.metrics.flush()
        now = datetime.datetime.now(datetime.timezone.utc)
        stats = sb.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="RecursiveInvocationsDropped",
            Dimensions=[{"Name": "FunctionName", "Value": "ImageResizeLambda"}],
            StartTime=now - datetime.timedelta(minutes=5), EndTime=now + datetime.timedelta(minutes=1),
            Period=60, Statistics=["Sum"])
        assert sum(p["Sum"] for p in stats["Datapoints"]) == 1
        assert sb.dead_letters()[0]["error_message"].startswith("Lambda has detected")
        assert any("recursive loop" in e.message for e in sb.log_events())
    finally:
        sb.stop()


def test_project_handler_with_destination_equal_to_source_skips_its_own_outputs():
    sb = start_sandbox(environment={"DESTINATION_BUCKET": SOURCE})
    try:
        sb.s3.upload_file(str(SAMPLES / "test.jpg"), SOURCE, "test.jpg")
        first = sb.wait_for_key("test.jpg")
        second = sb.wait_for_key("resized-test.jpg")
        assert first.status == second.status == "success"
        assert json.loads(second.result["body"])["results"][0]["status"] == "skipped"
        time.sleep(0.5)
        assert len(sb.invocations()) == 2
    finally:
        sb.stop()


@pytest.fixture
def faults():
    sb = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0)
    yield sb
    sb.stop()


def test_invocation_metrics_are_readable_with_get_metric_statistics(faults):
    sb = faults
    sb.invoke({"action": "ok"})
    sb.invoke({"action": "raise"})
    sb.metrics.flush()
    now = datetime.datetime.now(datetime.timezone.utc)
    cloudwatch = sb.client("cloudwatch")

    def total(name, stat="Sum"):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=name, Dimensions=[{"Name": "FunctionName", "Value": "ImageResizeLambda"}],
            StartTime=now - datetime.timedelta(minutes=5), EndTime=now + datetime.timedelta(minutes=1),
            Period=60, Statistics=[stat])["Datapoints"]
        return sum(p[stat] for p in points)
    assert total("Invocations") >= 2 and total("Errors") >= 1
    assert total("Duration", "SampleCount") >= 2
    assert total("ConcurrentExecutions", "Maximum") >= 1


def test_saving_a_file_in_the_code_directory_makes_the_next_invocation_cold(tmp_path):
    code = tmp_path / "code"
    shutil.copytree(HANDLERS / "faults", code)
    sb = start_sandbox(code)
    try:
        assert sb.invoke({"action": "ok"}).cold_start is True
        assert sb.invoke({"action": "ok"}).cold_start is False
        source = code / "lambda_function.py"
        source.write_text(source.read_text().replace('return {"ok": True, "pid": os.getpid()}',
                                                     'return {"ok": "reloaded", "pid": os.getpid()}'))
        deadline = time.time() + 10
        record = None
        while time.time() < deadline:
            time.sleep(0.3)
            record = sb.invoke({"action": "ok"})
            if record.result.get("ok") == "reloaded":
                break
        assert record.result["ok"] == "reloaded" and record.cold_start is True
    finally:
        sb.stop()


def test_session_cost_counts_requests_and_gb_seconds(faults):
    before = faults.cost.requests
    record = faults.invoke({"action": "ok"})
    assert faults.cost.requests == before + 1
    assert record.gb_seconds == pytest.approx(record.billed_duration_ms / 1000 * 128 / 1024)
    assert record.cost_usd == pytest.approx(0.2e-6 + record.gb_seconds * 0.0000166667)


@pytest.mark.corpus
def test_guide_handler_on_a_22_mp_photo_fails_at_128_mb_and_succeeds_at_512(realworld):
    photo = realworld / "metadata-extractor-images" / "jpg" / "Issue 266.jpg"
    sb = start_sandbox(HANDLERS / "guide", maximum_retry_attempts=0, timeout=30)
    try:
        sb.s3.upload_file(str(photo), SOURCE, "big.jpg")
        small = sb.wait_for_key("big.jpg", 60)
        assert small.status == "dead-lettered" and small.error_type == "Runtime.OutOfMemory"
        sb.update_function_configuration(memory_size=512)
        sb.s3.upload_file(str(photo), SOURCE, "big2.jpg")
        large = sb.wait_for_key("big2.jpg", 60)
        assert large.status == "success" and large.max_memory_used_mb > 128
    finally:
        sb.stop()


@pytest.mark.corpus
def test_project_handler_on_a_22_mp_photo_succeeds_at_128_mb(realworld):
    photo = realworld / "metadata-extractor-images" / "jpg" / "Issue 266.jpg"
    sb = start_sandbox(timeout=30)
    try:
        sb.s3.upload_file(str(photo), SOURCE, "big.jpg")
        record = sb.wait_for_key("big.jpg", 60)
        assert record.status == "success", (record.error_type, record.result)
        assert record.max_memory_used_mb <= 128
    finally:
        sb.stop()


def test_idle_environments_are_shut_down_after_the_idle_timeout():
    config = SandboxConfig(port=0, web_port=None, idle_timeout_s=0.5)
    with Sandbox(config, FunctionConfiguration(code_dir=HANDLERS / "faults")) as sandbox:
        first = sandbox.invoke({"action": "ok"})
        assert sandbox.runtime("ImageResizeLambda").describe()
        deadline = time.time() + 10
        while time.time() < deadline and sandbox.runtime("ImageResizeLambda").describe():
            time.sleep(0.1)
        assert sandbox.runtime("ImageResizeLambda").describe() == []
        again = sandbox.invoke({"action": "ok"})
        assert again.cold_start is True and again.result["pid"] != first.result["pid"]


def test_worker_killed_during_an_async_invocation_is_retried_in_a_new_environment(faults):
    import signal

    faults.client("lambda").put_function_event_invoke_config(FunctionName="ImageResizeLambda",
                                                             MaximumRetryAttempts=1)
    warm = faults.invoke({"action": "ok"})
    record = faults.invoke_async({"action": "sleep", "seconds": 1})
    deadline = time.time() + 5
    while time.time() < deadline and record.status != "running":
        time.sleep(0.01)
    time.sleep(0.2)
    os.kill(warm.result["pid"], signal.SIGKILL)
    final = _final(faults, lambda r: r.request_id == record.request_id and r.final and r.attempt == 2, 20)
    first = [r for r in faults.invocations() if r.request_id == record.request_id and r.attempt == 1][0]
    assert first.error_type == "Runtime.ExitError" and "signal: killed" in first.error_message
    assert final.status == "success" and final.cold_start is True
