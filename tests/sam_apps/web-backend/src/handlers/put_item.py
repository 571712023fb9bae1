"""POST /: adds or replaces an item {"id", "name"} (the quick start's put-item)."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["SAMPLE_TABLE"])


def put_item_handler(event, context):
    if event["httpMethod"] != "POST":
        raise ValueError(f"postMethod only accepts POST method, you tried: {event['httpMethod']}")
    body = json.loads(event["body"])
    table.put_item(Item={"id": body["id"], "name": body["name"]})
    return {"statusCode": 200, "body": json.dumps(body)}
