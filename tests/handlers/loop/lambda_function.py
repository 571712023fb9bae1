# A function that writes into the bucket that triggers it, with no guard: an infinite loop on its own.
import os
from urllib.parse import unquote_plus

import boto3

s3 = boto3.client("s3")


def lambda_handler(event, context):
    for record in event["Records"]:
        key = unquote_plus(record["s3"]["object"]["key"])
        destination = os.environ.get("DESTINATION_BUCKET", "resized-image-bucket123")
        s3.put_object(Bucket=destination, Key=f"resized-{key}"[:900], Body=b"loop")
    return {"statusCode": 200}
