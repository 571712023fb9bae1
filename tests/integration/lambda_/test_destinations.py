"""Destinations of asynchronous invocations through the real parts: configured and invoked with the AWS CLI
once (each event invoke config command, ``invoke --invocation-type Event``), with boto3 for the other
destinations, the invocation records read back from SQS, SNS (through a subscribed queue), a Lambda function
and an EventBridge rule, and compared with the AWS documentation's examples (keys and types)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile

import pytest

from helpers.aws_cli import aws_cli
from helpers.paths import HANDLERS, PROJECT_ROOT
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, wait_for_record

FUNCTION = "ImageResizeLambda"
# AWS Lambda Developer Guide, "Capturing records of Lambda asynchronous invocations": the examples' keys and
# value types (values abridged).
DOCUMENTED_SUCCESS = {
    "version": "1.0",
    "timestamp": "2019-11-14T18:16:05.568Z",
    "requestContext": {
        "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:my-function:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    },
    "requestPayload": {"ORDER_IDS": ["9e07af03-ce31-4ff3-xmpl-36dce652cb4f"]},
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
    "responsePayload": {"ok": True},
}
DOCUMENTED_FAILURE = {
    "version": "1.0",
    "timestamp": "2019-11-14T18:16:05.568Z",
    "requestContext": {
        "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:my-function:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    },
    "requestPayload": {"ORDER_IDS": ["9e07af03-ce31-4ff3-xmpl-36dce652cb4f"]},
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
    "responsePayload": {
        "errorMessage": "RequestId: e4b46cbf-b738-xmpl-8880-a18cdf61200e Process exited before "
        "completing request"
    },
}


def shapes(value, depth=0):
    """Keys nested two levels, each leaf's type; the payloads are the function's own."""
    if isinstance(value, dict) and depth < 2:
        return {
            k: shapes(v, depth + 1)
            for k, v in value.items()
            if k not in ("requestPayload", "responsePayload")
        }
    return type(value).__name__


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


def cli(sb, *args, check=True) -> subprocess.CompletedProcess:
    result = aws_cli(sb)(*args, "--output", "json", cwd=PROJECT_ROOT, timeout=120)
    assert not check or result.returncode == 0, result.stderr
    return result


def queue(sb, name: str) -> tuple[str, str]:
    url = sb.sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sb.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def received(sb, url: str, what: str) -> list[dict]:
    messages = eventually(
        lambda: sb.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []), what=what
    )
    for message in messages:
        sb.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


def invoke_async(sb, payload: dict, with_cli=False) -> str:
    """An asynchronous invoke (``aws lambda invoke --invocation-type Event`` or boto3's); the request id
    Lambda answered with."""
    if with_cli:
        cli(
            sb,
            "lambda",
            "invoke",
            "--function-name",
            FUNCTION,
            "--invocation-type",
            "Event",
            "--payload",
            json.dumps(payload),
            os.devnull,
        )
    else:
        sb.client("lambda").invoke(
            FunctionName=FUNCTION, InvocationType="Event", Payload=json.dumps(payload).encode()
        )
    record = eventually(
        lambda: next((r for r in sb.invocations() if r.event == payload), None),
        what="the asynchronous invocation's record",
    )
    return record.request_id


def put_config(sb, *args):
    cli(sb, "lambda", "put-function-event-invoke-config", "--function-name", FUNCTION, *args)


def put_destination(sb, condition: str, destination: str, **settings):
    """PutFunctionEventInvokeConfig through boto3 (its CLI form runs in the success and update tests)."""
    sb.client("lambda").put_function_event_invoke_config(
        FunctionName=FUNCTION, DestinationConfig={condition: {"Destination": destination}}, **settings
    )


def test_a_success_sends_awss_record_to_the_on_success_queue(sb):
    url, arn = queue(sb, "on-success")
    put_config(sb, "--destination-config", json.dumps({"OnSuccess": {"Destination": arn}}))
    request_id = invoke_async(sb, {"action": "ok", "n": 1}, with_cli=True)
    record = received(sb, url, "the on-success record")[0]
    assert shapes(record) == shapes(DOCUMENTED_SUCCESS)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["functionArn"].endswith(f":function:{FUNCTION}:$LATEST")
    assert record["requestPayload"] == {"action": "ok", "n": 1} and record["responsePayload"]["ok"] is True


def test_a_failure_goes_to_the_on_failure_destination_and_the_dead_letter_queue_both(sb):
    url, arn = queue(sb, "on-failure")
    dlq_url, dlq_arn = queue(sb, "failures-dlq")
    sb.client("lambda").update_function_configuration(
        FunctionName=FUNCTION, DeadLetterConfig={"TargetArn": dlq_arn}
    )
    put_destination(sb, "OnFailure", arn, MaximumRetryAttempts=1)
    request_id = invoke_async(sb, {"action": "raise", "n": 2})
    record = received(sb, url, "the on-failure record")[0]
    assert shapes(record) == shapes(DOCUMENTED_FAILURE)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # the first attempt and one retry
    assert record["requestContext"]["requestId"] == request_id
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert received(sb, dlq_url, "the dead-lettered event") == [{"action": "raise", "n": 2}]


def test_records_reach_sns_topics_lambda_functions_and_eventbridge_buses(sb):
    topic = sb.client("sns").create_topic(Name="successes")["TopicArn"]
    topic_queue, topic_queue_arn = queue(sb, "from-topic")
    sb.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=topic_queue_arn)
    put_destination(sb, "OnSuccess", topic)
    request_id = invoke_async(sb, {"action": "ok", "n": 3})
    notification = received(sb, topic_queue, "the record published to the topic")[0]
    assert json.loads(notification["Message"])["requestContext"]["requestId"] == request_id

    events = sb.client("events")
    bus_queue, bus_queue_arn = queue(sb, "from-bus")
    events.put_rule(Name="lambda-results", EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule="lambda-results", Targets=[{"Id": "q", "Arn": bus_queue_arn}])
    bus = events.describe_event_bus()["Arn"]
    put_destination(sb, "OnFailure", bus)
    request_id = invoke_async(sb, {"action": "raise", "n": 4})
    event = received(sb, bus_queue, "the record sent to the event bus")[0]
    assert event["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert event["detail"]["requestContext"]["requestId"] == request_id

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(HANDLERS / "echo" / "lambda_function.py", "lambda_function.py")
    reader = sb.client("lambda").create_function(
        FunctionName="RecordReader",
        Runtime="python3.12",
        Role=sb.function.role_arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": buffer.getvalue()},
    )["FunctionArn"]
    put_destination(sb, "OnSuccess", reader)
    request_id = invoke_async(sb, {"action": "ok", "n": 5})
    delivered = wait_for_record(
        sb,
        lambda r: r.function_name == "RecordReader" and r.final,
        what="the destination function's invocation",
    )
    assert delivered.invocation_type == "Event"
    assert delivered.event["requestContext"]["requestId"] == request_id


def test_update_changes_only_what_it_names_and_delete_resets(sb):
    _, arn = queue(sb, "kept")
    put_config(
        sb,
        "--maximum-retry-attempts",
        "0",
        "--destination-config",
        json.dumps({"OnSuccess": {"Destination": arn}}),
    )
    cli(
        sb,
        "lambda",
        "update-function-event-invoke-config",
        "--function-name",
        FUNCTION,
        "--maximum-event-age-in-seconds",
        "120",
    )
    function = sb.runtime(FUNCTION).function
    assert (
        function.on_success_destination,
        function.maximum_retry_attempts,
        function.maximum_event_age_s,
    ) == (arn, 0, 120)
    got = json.loads(
        cli(sb, "lambda", "get-function-event-invoke-config", "--function-name", FUNCTION).stdout
    )
    assert (got["MaximumRetryAttempts"], got["MaximumEventAgeInSeconds"]) == (0, 120)
    assert got["DestinationConfig"]["OnSuccess"] == {"Destination": arn}
    lambda_ = sb.client("lambda")
    lambda_.put_function_event_invoke_config(FunctionName=FUNCTION, MaximumRetryAttempts=1)  # put replaces
    assert sb.runtime(FUNCTION).function.on_success_destination is None
    got = lambda_.get_function_event_invoke_config(FunctionName=FUNCTION)
    assert got["MaximumRetryAttempts"] == 1 and not got.get("DestinationConfig", {}).get("OnSuccess")
    cli(sb, "lambda", "delete-function-event-invoke-config", "--function-name", FUNCTION)
    function = sb.runtime(FUNCTION).function
    assert (function.maximum_retry_attempts, function.maximum_event_age_s) == (2, 21_600)


def test_a_destination_lambda_cannot_send_to_is_refused_as_lambda_refuses_it(sb):
    result = cli(
        sb,
        "lambda",
        "put-function-event-invoke-config",
        "--function-name",
        FUNCTION,
        "--destination-config",
        json.dumps({"OnSuccess": {"Destination": "arn:aws:dynamodb:us-east-1:123456789012:table/t"}}),
        check=False,
    )
    assert result.returncode != 0
    assert "InvalidParameterValueException" in result.stderr and "destination ARN" in result.stderr
