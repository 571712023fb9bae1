"""Destinations of asynchronous invocations (``DestinationConfig`` of ``put-function-event-invoke-config``):
when an event succeeds, or fails every attempt, or grows too old, Lambda sends AWS's invocation record to
the on-success or on-failure destination: an SQS queue, an SNS topic, a Lambda function (invoked
asynchronously with the record as its event), an EventBridge event bus or (on failure only) an S3 bucket,
each through its API on the local endpoint. A dead-letter queue (dead_letters.py) and an on-failure
destination both receive, as on AWS. A stream mapping's skipped batch has its own record
(``send_batch_record``): to an SQS queue, an SNS topic or an S3 bucket.

The record (AWS Lambda Developer Guide, "Capturing records of Lambda asynchronous invocations"):
``version``, ``timestamp``, ``requestContext{requestId, functionArn, condition, approximateInvokeCount}``,
``requestPayload``, ``responseContext{statusCode, executedVersion[, functionError]}``, ``responsePayload``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sandbox.lambda_.invocation import InvocationRecord

DESTINATION_SERVICES = ("sqs", "sns", "lambda", "events")
# EventBridge's detail-type for the record, by whether the invocation succeeded.
DETAIL_TYPES = {
    True: "Lambda Function Invocation Result - Success",
    False: "Lambda Function Invocation Result - Failure",
}


def destination_problem(arn: str | None, on_failure: bool = False) -> str | None:
    """Lambda's refusal of a destination ARN, or None when it is one Lambda sends records to (an S3
    bucket only on failure)."""
    parts = str(arn or "").split(":")
    services = DESTINATION_SERVICES + (("s3",) if on_failure else ())
    if len(parts) < 6 or parts[0] != "arn" or parts[2] not in services or not parts[5]:
        if len(parts) >= 6 and parts[2] == "s3":
            return "S3 buckets are supported only for on-failure destinations."
        return (
            f"The destination ARN {arn} is invalid: it must be the ARN of an SQS queue, an SNS topic, "
            f"a Lambda function or an EventBridge event bus (or, on failure, an S3 bucket)."
        )
    return None


def async_object_key(function_name: str, when: datetime, suffix: str) -> str:
    """The S3 key of an asynchronous invocation's on-failure record:
    ``aws/lambda/async/<function-name>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>``."""
    return f"aws/lambda/async/{function_name}/{when:%Y/%m/%d}/{when:%Y-%m-%dT%H.%M.%S}-{suffix}"


def invocation_record(record: InvocationRecord, function_arn: str, condition: str) -> dict:
    """What AWS sends to a destination: the request, the response and the condition (``Success``,
    ``RetriesExhausted``, ``EventAgeExceeded``)."""
    response = {"statusCode": 200, "executedVersion": record.executed_version or "$LATEST"}
    if condition != "Success":
        response["functionError"] = "Unhandled"
    return {
        "version": "1.0",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": record.request_id,
            "functionArn": f"{function_arn}:{record.qualifier or '$LATEST'}",
            "condition": condition,
            "approximateInvokeCount": record.attempt,
        },
        "requestPayload": record.event,
        "responseContext": response,
        "responsePayload": record.result,
    }


# Where a stream mapping sends the record of a batch it skips (DestinationConfig.OnFailure).
STREAM_DESTINATION_SERVICES = ("sqs", "sns", "s3")


def stream_destination_problem(arn: str | None) -> str | None:
    """Lambda's refusal of a stream mapping's on-failure destination, or None for a queue, topic or bucket."""
    parts = str(arn or "").split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] not in STREAM_DESTINATION_SERVICES or not parts[5]:
        return (
            f"The destination ARN {arn} is invalid: a stream's on-failure destination must be the ARN of an "
            f"SQS queue, an SNS topic or an S3 bucket."
        )
    return None


def stream_object_key(mapping_uuid: str, shard_id: str, when: datetime, suffix: str) -> str:
    """The S3 key AWS gives a skipped batch's record:
    ``aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>``."""
    return f"aws/lambda/{mapping_uuid}/{shard_id}/{when:%Y/%m/%d}/{when:%Y-%m-%dT%H.%M.%S}-{suffix}"


def send_batch_record(
    client: Callable[[str], Any],
    destination: str,
    body: dict,
    *,
    mapping_uuid: str,
    shard_id: str,
    payload: dict,
) -> None:
    """A skipped stream batch's record to its on-failure destination (raises when it cannot): the record
    alone to a queue or a topic; to a bucket, with the batch's invocation payload as ``payload``."""
    import uuid

    service = destination.split(":")[2]
    text = json.dumps(body)
    if service == "sqs":
        sqs = client("sqs")
        parts = destination.split(":")
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=text)
    elif service == "sns":
        client("sns").publish(TopicArn=destination, Message=text)
    elif service == "s3":
        key = stream_object_key(mapping_uuid, shard_id, datetime.now(timezone.utc), str(uuid.uuid4()))
        document = json.dumps(dict(body, payload=json.dumps(payload, default=str)))
        client("s3").put_object(Bucket=destination.split(":")[5], Key=key, Body=document.encode())
    else:
        raise ValueError(stream_destination_problem(destination))


class Destinations:
    def __init__(self, client: Callable[[str], Any], region: str, report: Callable[[str], None]):
        """``client(service)``: a boto3 client for the local endpoint."""
        self.client = client
        self.region = region
        self._report = report
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()  # boto3 builds clients unsafely across threads (the async workers)

    @classmethod
    def on_endpoint(cls, endpoint_url: str, region: str, report: Callable[[str], None]) -> Destinations:
        """Destinations reached through the local endpoint with the sandbox's credentials."""
        import boto3

        from sandbox.config import LOCAL_CREDENTIALS

        def client(service: str):
            return boto3.client(service, endpoint_url=endpoint_url, region_name=region, **LOCAL_CREDENTIALS)

        return cls(client, region, report)

    def send(
        self, destination: str | None, record: InvocationRecord, function_arn: str, condition: str
    ) -> bool:
        """Send the invocation record to ``destination`` (an ARN); True when it took it. A failure to deliver
        is reported, never raised: the invocation itself is over."""
        if not destination:
            return False
        body = invocation_record(record, function_arn, condition)
        service = destination.split(":")[2]
        try:
            with self._lock:
                if service not in self._clients:
                    self._clients[service] = self.client(service)
            self._deliver(
                self._clients[service], service, destination, body, function_arn, condition == "Success"
            )
            return True
        except Exception as exc:
            self._report(
                f"sandbox: could not send the invocation record of {record.request_id} to "
                f"{destination}: {exc}"
            )
            return False

    @staticmethod
    def _deliver(client, service: str, arn: str, body: dict, function_arn: str, success: bool) -> None:
        text = json.dumps(body)
        if service == "sqs":
            url = client.get_queue_url(QueueName=arn.split(":")[5])["QueueUrl"]
            client.send_message(QueueUrl=url, MessageBody=text)
        elif service == "sns":
            client.publish(TopicArn=arn, Message=text)
        elif service == "lambda":
            client.invoke(FunctionName=arn, InvocationType="Event", Payload=text.encode())
        elif service == "s3" and not success:
            import uuid

            name = function_arn.split(":")[6] if function_arn.count(":") >= 6 else function_arn
            key = async_object_key(name, datetime.now(timezone.utc), str(uuid.uuid4()))
            client.put_object(Bucket=arn.split(":")[5], Key=key, Body=text.encode())
        elif service == "events":
            result = client.put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": DETAIL_TYPES[success],
                        "Detail": text,
                        "EventBusName": arn,
                        "Resources": [arn, body["requestContext"]["functionArn"]],
                    }
                ]
            )
            if result.get("FailedEntryCount"):
                raise RuntimeError(result["Entries"][0].get("ErrorMessage") or "PutEvents refused the record")
        else:
            raise ValueError(destination_problem(arn, on_failure=not success))
