"""A scheduled report of the guide's buckets: how many images were uploaded, how many were resized, and
the bytes the resize saved.

An EventBridge rule runs it on a schedule (cron(0 3 * * ? *): every day at 03:00 UTC). It is invoked
asynchronously with the Scheduled Event ("detail-type": "Scheduled Event", "time": when the rule fired);
a target's Input may replace that event with {"sourceBucket": ..., "destinationBucket": ...}. It logs
one line and writes the report as JSON to reports/bucket-report-<time>.json in the destination bucket.
Deploys to AWS unchanged: boto3 and the standard library; the endpoint comes from the environment.
"""

import json
import logging
import os
from datetime import datetime, timezone

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)
s3 = boto3.client("s3")
SOURCE_BUCKET = os.environ.get("SOURCE_BUCKET", "source-image-bucket123")
DESTINATION_BUCKET = os.environ.get("DESTINATION_BUCKET", "resized-image-bucket123")
OUTPUT_KEY_PREFIX = os.environ.get("OUTPUT_KEY_PREFIX", "resized-")
REPORT_PREFIX = "reports/"


def lambda_handler(event, context):
    source_bucket = event.get("sourceBucket", SOURCE_BUCKET)
    destination_bucket = event.get("destinationBucket", DESTINATION_BUCKET)
    when = event.get("time") or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    sources = sizes(source_bucket)
    outputs = sizes(destination_bucket, OUTPUT_KEY_PREFIX)
    resized = {}  # source key -> size of its resized copy
    for key, size in outputs.items():
        original = source_key_of(key[len(OUTPUT_KEY_PREFIX) :], sources)
        if original is not None:
            resized[original] = size
    source_bytes = sum(sources[key] for key in resized)
    resized_bytes = sum(resized.values())
    report = {
        "time": when,
        "sourceBucket": source_bucket,
        "destinationBucket": destination_bucket,
        "images": len(sources),
        "resized": len(resized),
        "notResized": sorted(set(sources) - set(resized))[:20],
        "sourceBytes": source_bytes,
        "resizedBytes": resized_bytes,
        "bytesSaved": source_bytes - resized_bytes,
        "savedPercent": round(100 * (source_bytes - resized_bytes) / source_bytes, 1)
        if source_bytes
        else 0.0,
    }
    report_key = f"{REPORT_PREFIX}bucket-report-{when.replace(':', '-')}.json"
    s3.put_object(
        Bucket=destination_bucket,
        Key=report_key,
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )
    logger.info(
        "Bucket report %s: %d images, %d resized; %d bytes -> %d bytes, saved %d (%.1f %%); s3://%s/%s",
        when,
        report["images"],
        report["resized"],
        source_bytes,
        resized_bytes,
        report["bytesSaved"],
        report["savedPercent"],
        destination_bucket,
        report_key,
    )
    return report


def sizes(bucket, prefix=""):
    """Every object's size in a bucket (under a prefix), through as many pages as it takes."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = item["Size"]
    return found


def source_key_of(name, sources):
    """The source key a resized copy was made from: the same name, or the name without the extension
    the resize added when it changed the format (hopper.png -> resized-hopper.png.jpg)."""
    if name in sources:
        return name
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem in sources else None
