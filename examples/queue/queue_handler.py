"""S3 -> SQS -> Lambda: the guide's resize, fed through a queue.

S3 sends each upload's event to an SQS queue (the bucket's QueueConfigurations); the queue's event source
mapping hands this function batches of messages. Each message body is the S3 event, which the guide's
own handler (lambda_function.py, packaged beside this file) resizes. A message whose image fails in a
way a retry may fix is reported in batchItemFailures (the mapping's ReportBatchItemFailures), so only it
comes back after the visibility timeout, and after maxReceiveCount tries the queue's redrive policy
moves it to the dead-letter queue. Deploys to AWS unchanged (handler: queue_handler.lambda_handler).
"""

import json
import logging

import lambda_function

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            body = json.loads(record["body"])
        except ValueError:
            logger.error("Message %s is not JSON; leaving it to the dead-letter queue", record["messageId"])
            failures.append(record["messageId"])
            continue
        if body.get("Event") == "s3:TestEvent":  # S3 sends one when the notification is configured
            logger.info("S3 test event for %s: nothing to resize", body.get("Bucket"))
            continue
        try:
            lambda_function.lambda_handler(body, context)
        except Exception:
            logger.exception("Message %s failed; it will be retried", record["messageId"])
            failures.append(record["messageId"])
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}
