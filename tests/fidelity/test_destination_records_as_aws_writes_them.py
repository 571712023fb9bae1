"""The invocation records Lambda sends to destinations, compared with AWS's published records
(references/destination-*.json, SOURCES.md): every destination type of an asynchronous invocation (an SQS
queue, an SNS topic, a Lambda function, an EventBridge bus), each record received through the real service
and compared key by key and type by type, with the formats of its times and ARNs. The event invoke
configuration's bounds and errors are compared with botocore's model of the Lambda API.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime, timezone

import botocore.session
import pytest
from botocore.exceptions import ClientError

from helpers.aws_cli import aws_cli
from helpers.event_shapes import compare, reference
from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, wait_for_record

pytestmark = pytest.mark.slow

SUCCESS = reference("destination-success.aws-cdk.json")
FAILURE = reference("destination-failure.aws-docs.json")
# The payloads are the function's own; everything else must be as AWS writes it.
PAYLOADS = {"requestPayload", "requestPayload/", "responsePayload", "responsePayload/"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FUNCTION_ARN = re.compile(r"^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+:\$LATEST$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


def aws(sb, *args, check: bool = True):
    result = aws_cli(sb)(*args)
    assert not check or result.returncode == 0, result.stderr
    return result


def function_name(sb) -> str:
    return sb.function.function_name


def new_queue(sb, name: str) -> tuple[str, str]:
    url = sb.sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sb.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def one_message(sb, url: str, what: str) -> dict:
    messages = eventually(lambda: sb.sqs.receive_message(QueueUrl=url).get("Messages", []), what=what)
    sb.sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    return json.loads(messages[0]["Body"])


def configure(sb, destinations: dict) -> None:
    """PutFunctionEventInvokeConfig through boto3: the AWS CLI's run of it is in
    tests/integration/lambda_/test_destinations.py (and below, refusing a value under the minimum)."""
    sb.client("lambda").put_function_event_invoke_config(
        FunctionName=function_name(sb), MaximumRetryAttempts=0, DestinationConfig=destinations
    )


def invoke_async(sb, payload: dict) -> str:
    sb.client("lambda").invoke(
        FunctionName=function_name(sb), InvocationType="Event", Payload=json.dumps(payload).encode()
    )
    record = wait_for_record(
        sb, lambda r: r.event == payload and r.final, what="the asynchronous invocation's last attempt"
    )
    return record.request_id


def assert_as_aws_writes_it(record: dict, reference_record: dict, request_id: str, condition: str) -> None:
    other = FAILURE if reference_record is SUCCESS else SUCCESS  # a payload may be an object or a string
    assert compare(record, reference_record, (other,), optional=PAYLOADS) == []
    assert record["version"] == "1.0" and TIMESTAMP.match(record["timestamp"]), record["timestamp"]
    context = record["requestContext"]
    assert (context["requestId"], context["condition"]) == (request_id, condition)
    assert FUNCTION_ARN.match(context["functionArn"]), context["functionArn"]
    assert UUID.match(context["requestId"])


def test_an_sqs_destination_receives_the_success_record_as_its_message_body(sb):
    url, arn = new_queue(sb, "dest-success")
    configure(sb, {"OnSuccess": {"Destination": arn}})
    request_id = invoke_async(sb, {"action": "ok", "to": "sqs"})
    record = one_message(sb, url, "the success record in the queue")
    assert_as_aws_writes_it(record, SUCCESS, request_id, "Success")
    assert record["requestPayload"] == {"action": "ok", "to": "sqs"}
    assert record["responsePayload"]["ok"] is True
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}


def test_an_sns_destination_publishes_the_failure_record_as_the_message(sb):
    topic = sb.client("sns").create_topic(Name="dest-failures")["TopicArn"]
    url, queue_arn = new_queue(sb, "dest-failures-subscriber")
    sb.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    configure(sb, {"OnFailure": {"Destination": topic}})
    request_id = invoke_async(sb, {"action": "raise", "to": "sns"})
    notification = one_message(sb, url, "the failure record published to the topic")
    assert notification["Type"] == "Notification" and notification["TopicArn"] == topic
    record = json.loads(notification["Message"])
    assert_as_aws_writes_it(record, FAILURE, request_id, "RetriesExhausted")
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "boom"
    assert record["requestContext"]["approximateInvokeCount"] == 1  # no retries configured


def test_an_eventbridge_destination_gets_the_record_as_the_detail_of_a_lambda_event(sb):
    events = sb.client("events")
    url, queue_arn = new_queue(sb, "dest-bus-rule")
    events.put_rule(Name="invocation-results", EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule="invocation-results", Targets=[{"Id": "q", "Arn": queue_arn}])
    bus = events.describe_event_bus()["Arn"]
    configure(sb, {"OnSuccess": {"Destination": bus}, "OnFailure": {"Destination": bus}})

    request_id = invoke_async(sb, {"action": "ok", "to": "events"})
    event = one_message(sb, url, "the success event delivered by the rule")
    assert (event["source"], event["detail-type"]) == (
        "lambda",
        "Lambda Function Invocation Result - Success",
    )
    assert_as_aws_writes_it(event["detail"], SUCCESS, request_id, "Success")
    assert set(event["resources"]) == {bus, event["detail"]["requestContext"]["functionArn"]}

    request_id = invoke_async(sb, {"action": "raise", "to": "events"})
    event = one_message(sb, url, "the failure event delivered by the rule")
    assert event["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert_as_aws_writes_it(event["detail"], FAILURE, request_id, "RetriesExhausted")


def test_a_lambda_destination_is_invoked_asynchronously_with_the_record_as_its_event(sb):
    reader = sb.client("lambda").create_function(
        FunctionName="RecordReader",
        Runtime="python3.12",
        Role=sb.function.role_arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": echo_zip()},
    )["FunctionArn"]
    configure(sb, {"OnFailure": {"Destination": reader}})
    request_id = invoke_async(sb, {"action": "raise", "to": "lambda"})
    delivered = wait_for_record(
        sb, lambda r: r.function_name == "RecordReader" and r.final, what="the destination's invocation"
    )
    assert delivered.invocation_type == "Event"
    assert_as_aws_writes_it(delivered.event, FAILURE, request_id, "RetriesExhausted")


def echo_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(HANDLERS / "echo" / "lambda_function.py", "lambda_function.py")
    return buffer.getvalue()


def test_a_failed_delivery_is_counted_and_told_on_the_invocation(sb):
    configure(sb, {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:no-such-queue"}})
    invoke_async(sb, {"action": "ok", "to": "nowhere"})
    record = wait_for_record(
        sb,
        lambda r: r.event == {"action": "ok", "to": "nowhere"} and r.destination,
        what="the invocation telling where its record went",
    )
    assert record.destination.startswith("on-success record NOT delivered to arn:aws:sqs:")
    sb.metrics.flush()
    metrics = sb.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="DestinationDeliveryFailures",
        Dimensions=[{"Name": "FunctionName", "Value": function_name(sb)}],
        StartTime=datetime.fromtimestamp(record.detected_at - 3600, timezone.utc),
        EndTime=datetime.fromtimestamp(record.detected_at + 3600, timezone.utc),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(point["Sum"] for point in metrics) >= 1


# -- put-, update-, get-, list- and delete-function-event-invoke-config ---------------------------------
LAMBDA_MODEL = botocore.session.get_session().get_service_model("lambda")


def bounds(key: str) -> tuple[int, int]:
    shape = LAMBDA_MODEL.operation_model("PutFunctionEventInvokeConfig").input_shape.members[key]
    return shape.metadata["min"], shape.metadata["max"]


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("MaximumRetryAttempts", "maximumRetryAttempts"),
        ("MaximumEventAgeInSeconds", "maximumEventAgeInSeconds"),
    ],
)
def test_values_above_the_models_maximum_are_refused_as_lambda_refuses_them(sb, key, field):
    low, high = bounds(key)
    lam = sb.client("lambda")
    function = sb.runtime(function_name(sb)).function
    before = (function.maximum_retry_attempts, function.maximum_event_age_s)
    for operation in (lam.put_function_event_invoke_config, lam.update_function_event_invoke_config):
        with pytest.raises(ClientError) as error:
            operation(FunctionName=function_name(sb), **{key: high + 1})
        assert error.value.response["Error"]["Code"] == "ValidationException"
        assert error.value.response["Error"]["Message"] == (
            f"1 validation error detected: Value '{high + 1}' at '{field}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {high}"
        )
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        function = sb.runtime(function_name(sb)).function  # nothing of a refused request takes effect
        assert (function.maximum_retry_attempts, function.maximum_event_age_s) == before
    for value in (low, high):  # the bounds themselves are accepted
        lam.put_function_event_invoke_config(FunctionName=function_name(sb), **{key: value})
    lam.delete_function_event_invoke_config(FunctionName=function_name(sb))


def test_a_value_below_the_minimum_is_refused_by_the_aws_cli_before_it_is_sent(sb):
    result = aws(
        sb,
        "lambda",
        "put-function-event-invoke-config",
        "--function-name",
        function_name(sb),
        "--maximum-event-age-in-seconds",
        "30",
        check=False,
    )
    assert result.returncode != 0 and "valid min value: 60" in result.stderr


def test_get_list_and_delete_follow_the_configuration(sb):
    lam = sb.client("lambda")
    lam.put_function_event_invoke_config(FunctionName=function_name(sb), MaximumRetryAttempts=0)
    lam.delete_function_event_invoke_config(FunctionName=function_name(sb))
    errors = [e.name for e in LAMBDA_MODEL.operation_model("GetFunctionEventInvokeConfig").error_shapes]
    with pytest.raises(ClientError) as error:
        lam.get_function_event_invoke_config(FunctionName=function_name(sb))
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException" in errors
    assert (
        lam.list_function_event_invoke_configs(FunctionName=function_name(sb))["FunctionEventInvokeConfigs"]
        == []
    )
    lam.put_function_event_invoke_config(FunctionName=function_name(sb), MaximumEventAgeInSeconds=3600)
    listed = lam.list_function_event_invoke_configs(FunctionName=function_name(sb))
    assert [c["MaximumEventAgeInSeconds"] for c in listed["FunctionEventInvokeConfigs"]] == [3600]
    with pytest.raises(ClientError) as error:
        lam.put_function_event_invoke_config(FunctionName="NoSuchFunction", MaximumRetryAttempts=1)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lam.delete_function_event_invoke_config(FunctionName=function_name(sb))


def test_an_s3_bucket_takes_the_failure_record_as_an_object_and_refuses_success_records(sb):
    s3 = sb.client("s3")
    s3.create_bucket(Bucket="failed-invocations")
    bucket = "arn:aws:s3:::failed-invocations"
    with pytest.raises(ClientError) as error:
        sb.client("lambda").put_function_event_invoke_config(
            FunctionName=function_name(sb), DestinationConfig={"OnSuccess": {"Destination": bucket}}
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "only for on-failure destinations" in error.value.response["Error"]["Message"]
    configure(sb, {"OnFailure": {"Destination": bucket}})
    request_id = invoke_async(sb, {"action": "raise", "to": "s3"})
    keys = eventually(
        lambda: [o["Key"] for o in s3.list_objects_v2(Bucket="failed-invocations").get("Contents", [])],
        what="the failure record in the bucket",
    )
    when = r"\d{4}/\d\d/\d\d/\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d"
    key_format = rf"aws/lambda/async/{function_name(sb)}/{when}-[0-9a-f-]{{36}}"
    assert re.fullmatch(key_format, keys[0]), keys[0]
    record = json.loads(s3.get_object(Bucket="failed-invocations", Key=keys[0])["Body"].read())
    assert_as_aws_writes_it(record, FAILURE, request_id, "RetriesExhausted")
    assert record["requestPayload"] == {"action": "raise", "to": "s3"}
