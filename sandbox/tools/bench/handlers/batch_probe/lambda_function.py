"""Bench function for queues and streams: a record whose text holds "poison" fails. SQS: reported in
batchItemFailures (the queue's redrive policy then moves it to the DLQ); streams: the batch raises (bisect
isolates the record, which is then skipped to the on-failure destination)."""

import json


def lambda_handler(event, context):
    failed = []
    for record in event["Records"]:
        if record.get("eventSource") == "aws:sqs":
            if "poison" in record["body"]:
                failed.append(record["messageId"])
        elif "poison" in json.dumps(record["dynamodb"].get("NewImage", {})):
            raise ValueError(f"poison record {record['dynamodb']['SequenceNumber']}")
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
