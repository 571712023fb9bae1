"""GET /{id}: one item of the table (the quick start's get-by-id)."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["SAMPLE_TABLE"])


def get_by_id_handler(event, context):
    if event["httpMethod"] != "GET":
        raise ValueError(f"getMethod only accept GET method, you tried: {event['httpMethod']}")
    item = table.get_item(Key={"id": event["pathParameters"]["id"]}).get("Item")
    return {"statusCode": 200 if item else 404, "body": json.dumps(item)}
