"""API Gateway (HTTP API) -> Lambda: the resized images over HTTP.

One function behind an HTTP API made with quick create (`aws apigatewayv2 create-api --target`), so every
request reaches it through the `$default` route as a payload 2.0 event:

- GET  /images          lists the resized images (JSON);
- GET  /images/<key>    serves one, as binary (base64 in the response, decoded by API Gateway);
- PUT  /images/<key>    stores the request's body in the source bucket, where the guide's S3 trigger
                        makes ImageResizeLambda write resized-<key> a moment later.

Deploys to AWS unchanged: boto3 and the standard library, buckets from the environment.
"""

import base64
import json
import logging
import os

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)
s3 = boto3.client("s3")
SOURCE_BUCKET = os.environ.get("SOURCE_BUCKET", "source-image-bucket123")
RESIZED_BUCKET = os.environ.get("DESTINATION_BUCKET", "resized-image-bucket123")
PREFIX = os.environ.get("OUTPUT_KEY_PREFIX", "resized-")


def lambda_handler(event, context):
    method = event["requestContext"]["http"]["method"]
    path = event["rawPath"]  # HTTP APIs pass it decoded
    if path.rstrip("/") == "/images" and method == "GET":
        return list_images()
    if path.startswith("/images/") and len(path) > len("/images/"):
        key = path[len("/images/") :]
        if method == "GET":
            return get_image(key)
        if method in ("PUT", "POST"):
            return upload(key, event)
        return reply(405, {"message": f"{method} is not allowed on /images/<key>: use GET or PUT."})
    return reply(404, {"message": f"No route for {method} {path}: try GET /images."})


def list_images():
    images = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=RESIZED_BUCKET, Prefix=PREFIX):
        images += [
            {
                "key": o["Key"],
                "size": o["Size"],
                "lastModified": o["LastModified"].isoformat(),
                "url": f"/images/{o['Key']}",
            }
            for o in page.get("Contents", [])
        ]
    return reply(200, {"bucket": RESIZED_BUCKET, "images": images})


def get_image(key):
    try:
        found = s3.get_object(Bucket=RESIZED_BUCKET, Key=key)
    except s3.exceptions.NoSuchKey:
        return reply(404, {"message": f"No image {key} in {RESIZED_BUCKET}."})
    return {
        "statusCode": 200,
        "isBase64Encoded": True,
        "headers": {"Content-Type": found.get("ContentType") or "application/octet-stream"},
        "body": base64.b64encode(found["Body"].read()).decode("ascii"),
    }


def upload(key, event):
    body = event.get("body") or ""
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    if not data:
        return reply(400, {"message": "Send the image as the request's body."})
    content_type = event["headers"].get("content-type", "application/octet-stream")
    s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=data, ContentType=content_type)
    logger.info("Stored s3://%s/%s (%d bytes) for resizing", SOURCE_BUCKET, key, len(data))
    return reply(
        202,
        {
            "uploaded": f"s3://{SOURCE_BUCKET}/{key}",
            "next": f"GET /images lists {PREFIX}{key} once ImageResizeLambda has resized it",
        },
    )


def reply(status, document):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(document),
    }
