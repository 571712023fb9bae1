"""DynamoDB Streams -> Lambda: captions for the resized images.

A table "image-captions" (key: the image's key) has a stream; each change reaches this function in
order. For every caption written it stores "captions/<key>.txt" in the resized bucket, next to the
images; a removed caption removes the file. Deploys to AWS unchanged.
"""

import logging
import os

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)
s3 = boto3.client("s3")
BUCKET = os.environ.get("DESTINATION_BUCKET", "resized-image-bucket123")


def lambda_handler(event, context):
    written = removed = 0
    for record in event["Records"]:
        change = record["dynamodb"]
        key = change["Keys"]["key"]["S"]
        target = f"captions/{key}.txt"
        if record["eventName"] == "REMOVE":
            s3.delete_object(Bucket=BUCKET, Key=target)
            removed += 1
            logger.info("Caption of %s removed", key)
            continue
        caption = change.get("NewImage", {}).get("caption", {}).get("S", "")
        s3.put_object(
            Bucket=BUCKET, Key=target, Body=caption.encode("utf-8"), ContentType="text/plain; charset=utf-8"
        )
        written += 1
        logger.info("Caption of %s: %r -> s3://%s/%s", key, caption, BUCKET, target)
    return {"written": written, "removed": removed}
