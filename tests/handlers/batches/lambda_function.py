"""Reports every batch it receives on the queue "<source queue, table, bucket or schedule>-seen", and fails
as the records ask: a message body or item containing "fail" fails the whole batch; "partial" reports that
record in batchItemFailures (ReportBatchItemFailures); "stranger" reports a messageId that is not in the
batch."""

import json

import boto3

sqs = boto3.client("sqs")


def _identifier(record):
    if record.get("eventSource") == "aws:sqs":
        return record["messageId"], record["body"]
    if record.get("eventSource") == "aws:s3":
        return record["s3"]["object"]["key"], record["s3"]["object"]["key"]
    change = record["dynamodb"]
    return change["SequenceNumber"], json.dumps(change.get("NewImage") or change.get("Keys"))


def _source_name(event) -> str:
    if "Records" not in event:  # a scheduled event: the rule or schedule
        return event["resources"][0].rsplit("/", 1)[-1]
    record = event["Records"][0]
    if record.get("eventSource") == "aws:s3":
        return record["s3"]["bucket"]["name"]
    source = record["eventSourceARN"]
    return source.rsplit(":", 1)[-1] if ":table/" not in source else source.split(":table/")[1].split("/")[0]


def lambda_handler(event, context):
    items = (
        [_identifier(r) for r in event["Records"]] if "Records" in event else [(event["id"], event["time"])]
    )
    name = _source_name(event)
    url = sqs.get_queue_url(QueueName=name.removesuffix(".fifo") + "-seen")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(
            {"batch": [text for _, text in items], "ids": [i for i, _ in items], "event": event}
        ),
    )
    if any("fail" in text for _, text in items):
        raise RuntimeError("a record asked this batch to fail")
    failures = [{"itemIdentifier": i} for i, text in items if "partial" in text]
    failures += [{"itemIdentifier": "not-a-message-of-this-batch"} for _, text in items if "stranger" in text]
    return {"batchItemFailures": failures}
