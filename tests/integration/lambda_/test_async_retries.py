"""A failed asynchronous invocation, as Lambda handles one: retries with the same request id, then the
dead-letter queue or the on-failure destination; a worker killed mid-invocation is retried in a new one."""

import json
import os
import signal
import subprocess

import pytest

from helpers.aws_cli import aws_command
from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, wait_for_record


@pytest.mark.slow
def test_failed_async_invocation_is_retried_twice_then_dead_lettered():
    sb = start_sandbox(HANDLERS / "faults")  # default: MaximumRetryAttempts 2, delays 1 s and 2 s
    try:
        record = sb.invoke_async({"action": "raise"})
        final = wait_for_record(
            sb,
            lambda r: r.request_id == record.request_id and r.status == "dead-lettered",
            what="the failing event to be dead-lettered after its retries",
        )
        attempts = [r for r in sb.invocations() if r.request_id == record.request_id]
        assert final.attempt == 3
        assert sorted(r.attempt for r in attempts) == [1, 2, 3]
        starts = sorted(r.started_at for r in attempts)
        assert (
            starts[1] - starts[0] >= 0.9 and starts[2] - starts[1] >= 1.9
        )  # AWS's order: 1 then 2 (minutes)
        env = dict(os.environ, **sb.client_environment())
        url = sb.sqs.get_queue_url(QueueName="ImageResizeLambda-dlq")["QueueUrl"]
        # AWS CLI v1 ignores AWS_ENDPOINT_URL for SQS (it pins queue.amazonaws.com): pass --endpoint-url.
        received = subprocess.run(
            [
                *aws_command(),
                "sqs",
                "receive-message",
                "--queue-url",
                url,
                "--endpoint-url",
                sb.endpoint_url,
                "--visibility-timeout",
                "0",
                "--message-attribute-names",
                "All",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
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
        arn = sb.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sb.client("lambda").put_function_event_invoke_config(
            FunctionName="ImageResizeLambda",
            MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": arn}},
        )
        record = sb.invoke_async({"action": "raise"})
        wait_for_record(
            sb,
            lambda r: r.request_id == record.request_id and r.status == "dead-lettered",
            what="the failing event to be dead-lettered",
        )
        messages = eventually(
            lambda: sb.sqs.receive_message(QueueUrl=queue_url).get("Messages", []),
            what="the invocation record in the on-failure destination queue",
        )
        body = json.loads(messages[0]["Body"])
        assert body["requestContext"]["condition"] == "RetriesExhausted"
        assert body["requestContext"]["requestId"] == record.request_id
        assert body["requestPayload"] == {"action": "raise"}
        assert body["responsePayload"]["errorType"] == "ValueError"
    finally:
        sb.stop()


@pytest.mark.slow
def test_worker_killed_during_an_async_invocation_is_retried_in_a_new_environment():
    sb = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0)
    try:
        sb.client("lambda").put_function_event_invoke_config(
            FunctionName="ImageResizeLambda", MaximumRetryAttempts=1
        )
        warm = sb.invoke({"action": "ok"})
        record = sb.invoke_async({"action": "sleep", "seconds": 1})
        # started_at is set once the event is handed to the (warm) environment: a kill from then on ends
        # this invocation, not the environment before it is chosen.
        eventually(lambda: record.started_at, what="the async invocation to start in the warm environment")
        os.kill(warm.result["pid"], signal.SIGKILL)
        final = wait_for_record(
            sb,
            lambda r: r.request_id == record.request_id and r.final and r.attempt == 2,
            what="the killed invocation's second attempt to finish",
        )
        first = [r for r in sb.invocations() if r.request_id == record.request_id and r.attempt == 1][0]
        assert first.error_type == "Runtime.ExitError" and "signal: killed" in first.error_message
        assert final.status == "success" and final.cold_start is True
    finally:
        sb.stop()
