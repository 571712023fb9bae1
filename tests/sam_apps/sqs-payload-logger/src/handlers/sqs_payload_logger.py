"""Logs the payload of every message the queue hands the function (the quick start's sqs-payload-logger)."""

import json


def sqs_payload_logger_handler(event, context):
    for record in event["Records"]:
        print(json.dumps({"messageId": record["messageId"], "body": record["body"]}))
