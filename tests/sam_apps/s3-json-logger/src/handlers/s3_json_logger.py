"""Logs the content of every .json file put into the app's bucket (the quick start's s3-json-logger)."""

import json
from urllib.parse import unquote_plus

import boto3

s3 = boto3.client("s3")


def s3_json_logger_handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        print(json.dumps({"key": key, "content": json.loads(body)}))
