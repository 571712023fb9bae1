"""Reports every batch it receives on the queue "<source queue or table>-seen", and fails as the records
ask: a message body or item containing "fail" fails the whole batch; "partial" reports that record in
batchItemFailures (ReportBatchItemFailures)."""
import json

import boto3

sqs = boto3.client("sqs")


def _identifier(record):
    if record.get("eventSource") == "aws:sqs":
        return record["messageId"], record["body"]
    change = record["dynamodb"]
    return change["SequenceNumber"], json.dumps(change.get("NewImage") or change.get("Keys"))


def lambda_handler(event, context):
    items = [_identifier(r) for r in event["Records"]]
    source = event["Records"][0]["eventSourceARN"]
    name = source.rsplit(":", 1)[-1] if ":table/" not in source else source.split(":table/")[1].split("/")[0]
    url = sqs.get_queue_url(QueueName=name.removesuffix(".fifo") + "-seen")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"batch": [text for _, text in items],
                                                          "ids": [i for i, _ in items],
                                                          "event": event}))
    if any("fail" in text for _, text in items):
        raise RuntimeError("a record asked this batch to fail")
    return {"batchItemFailures": [{"itemIdentifier": i} for i, text in items if "partial" in text]}
