"""GET /: every item of the table (the quick start's get-all-items)."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["SAMPLE_TABLE"])


def get_all_items_handler(event, context):
    if event["httpMethod"] != "GET":
        raise ValueError(f"getAllItems only accept GET method, you tried: {event['httpMethod']}")
    items = table.scan()["Items"]
    return {"statusCode": 200, "body": json.dumps(items)}
