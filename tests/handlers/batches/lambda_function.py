"""Records every batch it receives (in a table the test reads back through DynamoDB) and fails as the
records ask: a message body or item containing "fail" fails the whole batch; "partial" reports that
record in batchItemFailures (ReportBatchItemFailures)."""
import json
import os

import boto3

LOG_QUEUE = os.environ.get("SEEN_QUEUE", "seen")
sqs = boto3.client("sqs")


def _identifier(record):
    if record.get("eventSource") == "aws:sqs":
        return record["messageId"], record["body"]
    change = record["dynamodb"]
    return change["SequenceNumber"], json.dumps(change.get("NewImage") or change.get("Keys"))


def lambda_handler(event, context):
    items = [_identifier(r) for r in event["Records"]]
    url = sqs.get_queue_url(QueueName=LOG_QUEUE)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"batch": [text for _, text in items],
                                                          "ids": [i for i, _ in items],
                                                          "event": event}))
    if any("fail" in text for _, text in items):
        raise RuntimeError("a record asked this batch to fail")
    return {"batchItemFailures": [{"itemIdentifier": i} for i, text in items if "partial" in text]}
