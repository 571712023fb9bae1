"""ImageResizeLambda: resize every image uploaded to the source bucket into the destination bucket.

Deployed as ``lambda_function.lambda_handler`` (the console's default), triggered by S3
``ObjectCreated:*`` on the source bucket, with Pillow from a layer. Only boto3, Pillow and the standard
library are imported; the endpoint comes from the environment (boto3 reads ``AWS_ENDPOINT_URL``), so the
same file runs on AWS and in the local sandbox.

Settings (environment variables; validated when the module loads, so a bad value fails the INIT phase
with a message naming the variable):

| Variable | Default | Allowed values | Meaning |
|---|---|---|---|
| `DESTINATION_BUCKET` | `resized-image-bucket123` | an S3 bucket name | Where resized images are written. May be the source bucket: the loop guard then skips keys that start with `OUTPUT_KEY_PREFIX` (logged at INFO). |
| `OUTPUT_KEY_PREFIX` | `resized-` | any text, may contain `/`; empty only with a separate destination bucket | Put in front of the source key: `test.jpg` -> `resized-test.jpg`. Distinct source keys never share an output key (see `OUTPUT_FORMAT`). |
| `RESIZE_SCALE` | `0.5` | number, `0 < x <= 1` | Factor applied to each side (0.5 = half width, half height, as in the guide). No side becomes 0 px. |
| `MAX_WIDTH` | unset | whole number 1-65535 | Optional: also fit the output inside this width (aspect ratio kept). |
| `MAX_HEIGHT` | unset | whole number 1-65535 | Optional: also fit the output inside this height (aspect ratio kept). |
| `OUTPUT_FORMAT` | `JPEG` | `JPEG`, `PNG`, `WEBP`, `AUTO` | Format written. `AUTO` keeps JPEG/PNG/WebP sources in their format; other sources become PNG when they have transparency, JPEG otherwise. The output key is the prefix + the whole source key; a matching extension is kept (`test.jpg` -> `resized-test.jpg`, `a.JPG` -> `resized-a.JPG`), the extension of another type stays and the output's is added (`hopper.png` -> `resized-hopper.png.jpg`, `scan.tif` -> `resized-scan.tif.jpg`), a name without a type extension is kept (`photo` -> `resized-photo`), and `x.png.jpg` -> `resized-x.png.jpg.jpg` because `x.png` has `resized-x.png.jpg`: no two keys meet. |
| `OUTPUT_QUALITY` | `75` | whole number 1-100 | JPEG/WebP quality (75 is Pillow's default, what the guide's handler writes). |
| `RESAMPLING_FILTER` | `LANCZOS` | `NEAREST`, `BOX`, `BILINEAR`, `HAMMING`, `BICUBIC`, `LANCZOS` | Filter used after libjpeg's reduced-scale decode to reach the exact size. |
| `BACKGROUND_COLOR` | `#ffffff` | a CSS-style colour (`#rrggbb`, `white`, `rgb(r,g,b)`) | Transparency is flattened onto this colour for JPEG output (kept as is for PNG/WebP). |
| `MAX_INPUT_PIXELS` | `89478485` | whole number >= 1 | Images with more pixels are refused from their header, before decoding (decompression bombs). Pillow's own default. |
| `MAX_INPUT_BYTES` | `52428800` (50 MiB) | whole number >= 1 | Objects larger than this are refused before they are downloaded, as is one whose bytes alone would not fit the memory size. |
| `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` | `128` (set by Lambda) | 128-10240 | The function's memory. Before decoding, what the process holds (its resident memory) plus what the image will need - decoders' own buffers included, such as a progressive JPEG's coefficients - is checked against it; an image that would not fit is refused, naming the key and the memory size to choose. |

What happens to an image (details in image_resize.py): accepted formats JPEG (and MPO), PNG, GIF,
WebP, TIFF, BMP; each side is scaled and rounded half up, never to 0 px (1801 px -> 901 px);
EXIF orientation is applied; the ICC profile is kept (CMYK goes to sRGB through its profile); EXIF
(GPS included) and XMP are not copied; animated GIF/PNG/WebP, MPO and multi-page TIFF give their
first frame; transparency is flattened onto BACKGROUND_COLOR for JPEG.

Loop guard: when DESTINATION_BUCKET is the source bucket, a record whose key starts with
OUTPUT_KEY_PREFIX, or whose object carries this function's `resized-from` metadata, is the function's
own output: it is skipped and logged at INFO, so one upload never triggers an endless chain.

Errors, per record (each record succeeds or fails on its own; the source object is never modified):
* permanent - not an image, unsupported, corrupt, too large, object gone (NoSuchKey), access denied:
  logged at ERROR with the key and one sentence, listed in the result body, NOT raised. S3 invokes
  Lambda asynchronously and retries a raised error twice; retrying cannot fix these.
* transient - S3 throttling or 5xx (SlowDown, ServiceUnavailable, InternalError, RequestTimeout, ...)
  and connection errors/timeouts: the other records are still processed, then the handler raises so
  Lambda retries the whole event (rewriting the same output keys is harmless).
* anything unexpected (a bug) is logged with its traceback and also raised after the other records,
  so it shows in the function's Errors metric and reaches a dead-letter queue if one is configured.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import urllib.parse

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    HTTPClientError,
    IncompleteReadError,
    ResponseStreamingError,
)
from PIL import Image

from image_resize import (
    MIB,
    OUTPUT_FORMATS,
    ImageRejected,
    ResizeSettings,
    env_int,
    memory_in_use,
    output_key_for,
    release_freed_memory_promptly,
    resize_image,
)

# The Lambda Python runtime installs a handler on the root logger that prints
# "[LEVEL]\t<time>\t<request id>\t<message>"; AWS samples use the root logger the same way.
logger = logging.getLogger()
logger.setLevel(logging.INFO)

DEFAULT_DESTINATION_BUCKET = "resized-image-bucket123"
DEFAULT_OUTPUT_KEY_PREFIX = "resized-"

# S3 error codes worth retrying: throttling and server-side failures.
TRANSIENT_S3_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "RequestThrottled", "TooManyRequestsException",
    "ServiceUnavailable", "InternalError", "RequestTimeout", "RequestTimeoutException",
    "OperationAborted", "503", "500", "502", "504",
})


class RetryableEventError(Exception):
    """Raised after all records were tried, when at least one failed in a way a retry can fix."""


class Settings:
    """Everything the handler reads from the environment, validated once per execution environment."""

    def __init__(self, environ):
        self.destination_bucket = (environ.get("DESTINATION_BUCKET") or "").strip() or DEFAULT_DESTINATION_BUCKET
        prefix = environ.get("OUTPUT_KEY_PREFIX")
        self.output_key_prefix = DEFAULT_OUTPUT_KEY_PREFIX if prefix is None else prefix
        self.max_input_bytes = env_int(environ, "MAX_INPUT_BYTES", 50 * 1024 * 1024, 1)
        self.resize = ResizeSettings.from_environ(environ)

    def as_dict(self) -> dict:
        return {
            "DESTINATION_BUCKET": self.destination_bucket,
            "OUTPUT_KEY_PREFIX": self.output_key_prefix,
            "MAX_INPUT_BYTES": self.max_input_bytes,
            "RESIZE_SCALE": self.resize.scale,
            "MAX_WIDTH": self.resize.max_width,
            "MAX_HEIGHT": self.resize.max_height,
            "OUTPUT_FORMAT": self.resize.output_format,
            "OUTPUT_QUALITY": self.resize.quality,
            "RESAMPLING_FILTER": self.resize.resampling,
            "BACKGROUND_COLOR": "#%02x%02x%02x" % self.resize.background,
            "MAX_INPUT_PIXELS": self.resize.max_input_pixels,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": self.resize.memory_size_mb,
        }


# INIT phase: runs once per execution environment. A bad setting raises ValueError here, so the
# function fails to initialise with that message instead of failing every image later.
SETTINGS = Settings(os.environ)
# Pillow warns from MAX_IMAGE_PIXELS and refuses at twice it; align it with our own limit so raising
# MAX_INPUT_PIXELS is the one knob (image_resize refuses anything above MAX_INPUT_PIXELS itself).
Image.MAX_IMAGE_PIXELS = SETTINGS.resize.max_input_pixels
# Freed image buffers go back to the system at once, so a warm execution environment starts each
# image with the memory a fresh one has, and the memory check (which reads what the process holds)
# does not refuse images because of what an earlier one left behind.
release_freed_memory_promptly()

# One S3 client per execution environment, created during INIT as AWS recommends: warm invocations
# reuse it and its connection pool. Creating it lazily would not make a cold start cheaper: the same
# work (about 0.3 s for the first client, which loads botocore's S3 model) would only move from INIT
# into the first invocation, and since August 2025 AWS bills INIT too. boto3 reads the endpoint
# (AWS_ENDPOINT_URL) and the region from the environment, so nothing here knows whether it runs on
# AWS or in the sandbox. Tests replace this global with a fake.
s3 = boto3.client("s3")


def lambda_handler(event, context):
    records = event.get("Records") if isinstance(event, dict) else None
    if not records or not isinstance(records, list):
        message = (
            "The event has no Records: this function expects an S3 event notification "
            "(ObjectCreated on the source bucket); use the S3 Put test event template to try it."
        )
        logger.warning(message)
        return {"statusCode": 400, "body": json.dumps({"error": message})}

    results = []
    retryable = []  # (result, exception) pairs that a retry could fix, or bugs
    for index, record in enumerate(records):
        result, exc = process_record(record, index)
        results.append(result)
        if exc is not None:
            retryable.append((result, exc))

    summary = {
        "records": len(records),
        "resized": sum(r["status"] == "resized" for r in results),
        "skipped": sum(r["status"] == "skipped" for r in results),
        "rejected": sum(r["status"] == "rejected" for r in results),
        "failed": sum(r["status"] == "failed" for r in results),
        "results": results,
    }
    if retryable:
        first_result, first_exc = retryable[0]
        detail = "; ".join(f"{r.get('key')!r}: {r.get('reason')}" for r, _ in retryable)
        logger.error("Result: %s", json.dumps(summary))
        raise RetryableEventError(
            f"{len(retryable)} of {len(records)} record(s) failed in a way a retry may fix ({detail}); "
            "raising so Lambda retries the event."
        ) from first_exc
    return {"statusCode": 200, "body": json.dumps(summary)}


def _record_location(record) -> tuple[str, str]:
    """(bucket, decoded key). S3 form-encodes keys in events: 'a b.jpg' arrives as 'a+b.jpg'."""
    s3_part = record["s3"]
    bucket = s3_part["bucket"]["name"]
    key = urllib.parse.unquote_plus(s3_part["object"]["key"])
    if not isinstance(bucket, str) or not bucket or not key:
        raise ValueError("empty bucket or key")
    return bucket, key


def process_record(record, index: int = 0):
    """Process one record. Returns (result dict, exception to re-raise later or None)."""
    settings = SETTINGS
    try:
        bucket, key = _record_location(record)
    except (KeyError, TypeError, ValueError, AttributeError):
        reason = "The record is not an S3 event record (no s3.bucket.name / s3.object.key)."
        logger.error("Record %d rejected: %s", index, reason)
        return {"index": index, "status": "rejected", "reason": reason}, None
    result = {"index": index, "bucket": bucket, "key": key}

    event_name = record.get("eventName") or ""
    if event_name and not event_name.startswith("ObjectCreated:"):
        result.update(status="skipped", reason=f"{event_name} is not an object-created event.")
        logger.info("Skipped s3://%s/%s: %s", bucket, key, result["reason"])
        return result, None

    destination = settings.destination_bucket
    prefix = settings.output_key_prefix
    # Loop guard: when results are written into the bucket that triggers the function, every output
    # would trigger it again. Outputs are recognised by the prefix and never processed.
    if bucket == destination:
        if not prefix:
            reason = ("OUTPUT_KEY_PREFIX is empty and DESTINATION_BUCKET is the source bucket, so the "
                      "output would overwrite the source; set a prefix or another destination bucket.")
            logger.error("Rejected s3://%s/%s: %s", bucket, key, reason)
            result.update(status="rejected", reason=reason)
            return result, None
        if key.startswith(prefix):
            reason = (f"The key starts with OUTPUT_KEY_PREFIX {prefix!r} in the destination bucket, so it "
                      "is this function's own output (loop guard).")
            logger.info("Skipped s3://%s/%s: %s", bucket, key, reason)
            result.update(status="skipped", reason=reason)
            return result, None

    size = (record.get("s3", {}).get("object") or {}).get("size")
    if isinstance(size, int) and size > settings.max_input_bytes:
        return _reject(result, _too_many_bytes(size, settings.max_input_bytes))

    started = time.perf_counter()
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        metadata = response.get("Metadata") or {}
        if bucket == destination and metadata.get("resized-from"):
            response["Body"].close()
            reason = "The object carries this function's resized-from metadata, so it is an output (loop guard)."
            logger.info("Skipped s3://%s/%s: %s", bucket, key, reason)
            result.update(status="skipped", reason=reason)
            return result, None
        length = response.get("ContentLength")
        if isinstance(length, int) and length > settings.max_input_bytes:
            response["Body"].close()
            return _reject(result, _too_many_bytes(length, settings.max_input_bytes))
        too_big = _download_would_not_fit(length, settings.resize.memory_size_mb)
        if too_big:
            response["Body"].close()
            result["kind"] = "too-large"
            return _reject(result, too_big)
        data = response["Body"].read()
    except Exception as exc:  # noqa: BLE001 - classified below
        return _s3_failure(result, exc, "GetObject", bucket, key)

    try:
        # The memory check adds what the image will need to what this process holds now.
        resized = resize_image(data, settings.resize, bytes_in_use=memory_in_use())
    except ImageRejected as exc:
        result["kind"] = exc.kind
        return _reject(result, str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug: logged with traceback, raised after the others
        logger.exception("Unexpected error resizing s3://%s/%s", bucket, key)
        result.update(status="failed", reason=f"Unexpected {type(exc).__name__}: {exc}")
        return result, exc
    del data

    _, _, accepted = OUTPUT_FORMATS[resized.format]
    out_key = output_key_for(key, prefix, resized.extension, accepted)
    if bucket == destination and out_key == key:  # cannot happen with a non-empty prefix; belt and braces
        return _reject(result, "The output key equals the source key; the source object is never overwritten.")
    try:
        s3.put_object(
            Bucket=destination,
            Key=out_key,
            Body=resized.data,
            ContentType=resized.content_type,
            # Marks the object as an output for the loop guard; S3 metadata must be ASCII.
            Metadata={"resized-from": urllib.parse.quote(f"{bucket}/{key}", safe="/")},
        )
    except Exception as exc:  # noqa: BLE001 - classified below
        return _s3_failure(result, exc, "PutObject", destination, out_key)

    elapsed_ms = (time.perf_counter() - started) * 1000
    result.update(
        status="resized",
        outputBucket=destination,
        outputKey=out_key,
        **resized.as_dict(),
    )
    logger.info(
        "Resized s3://%s/%s (%dx%d %s) to s3://%s/%s (%dx%d %s, %d bytes) in %.0f ms",
        bucket, key, resized.source_width, resized.source_height, resized.source_format,
        destination, out_key, resized.width, resized.height, resized.format, len(resized.data), elapsed_ms,
    )
    return result, None


def _download_would_not_fit(length, memory_size_mb: int) -> str | None:
    """The reason to refuse an object before downloading it when the bytes alone would take the
    process past the function's memory (only with MAX_INPUT_BYTES raised: 50 MB fit in 128 MB)."""
    in_use = memory_in_use()
    if not isinstance(length, int) or in_use is None or in_use + length <= memory_size_mb * MIB:
        return None
    need_mb = math.ceil((in_use + length) / MIB)
    return (f"The object is {length:,} bytes: with the {in_use / MIB:.0f} MB the function already holds, "
            f"downloading it needs about {need_mb} MB of its {memory_size_mb} MB; it was not downloaded - "
            f"raise the function's memory size to at least {min(10_240, 64 * math.ceil(need_mb / 64))} MB.")


def _too_many_bytes(size: int, limit: int) -> str:
    return (f"The object is {size:,} bytes, above MAX_INPUT_BYTES={limit:,}; it was not downloaded - "
            "raise MAX_INPUT_BYTES (and the memory size) if such files are expected.")


def _reject(result: dict, reason: str):
    result.update(status="rejected", reason=reason)
    logger.error("Rejected s3://%s/%s: %s", result.get("bucket"), result.get("key"), reason)
    return result, None


def is_transient(exc: BaseException) -> bool:
    """True for failures a retry can fix: throttling, S3 5xx, connection problems and timeouts."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in TRANSIENT_S3_CODES or (isinstance(status, int) and status >= 500)
    # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError, ...
    return isinstance(exc, (BotoConnectionError, HTTPClientError, IncompleteReadError,
                            ResponseStreamingError, ConnectionError, TimeoutError))


def _s3_failure(result: dict, exc: Exception, operation: str, bucket: str, key: str):
    if is_transient(exc):
        reason = f"{operation} s3://{bucket}/{key} failed with a transient error ({_error_text(exc)}); the event will be retried."
        logger.warning("Transient failure for %s: %s", result.get("key"), reason)
        result.update(status="failed", retryable=True, reason=reason)
        return result, exc
    if isinstance(exc, (ClientError, BotoCoreError)):
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        if code in ("NoSuchKey", "404") and operation == "GetObject":
            reason = "The object no longer exists (deleted before it was processed)."
        elif code in ("AccessDenied", "403"):
            action = "s3:GetObject" if operation == "GetObject" else "s3:PutObject"
            reason = (f"{operation} s3://{bucket}/{key} was denied; give the function's role {action} "
                      f"on arn:aws:s3:::{bucket}/*.")
        elif code == "NoSuchBucket":
            reason = f"The bucket {bucket!r} does not exist; create it or set DESTINATION_BUCKET."
        else:
            reason = f"{operation} s3://{bucket}/{key} failed: {_error_text(exc)}."
        result["kind"] = "s3"
        return _reject(result, reason)
    logger.exception("Unexpected error during %s of s3://%s/%s", operation, bucket, key)
    result.update(status="failed", reason=f"Unexpected {type(exc).__name__} during {operation}: {exc}")
    return result, exc


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"
