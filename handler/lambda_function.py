"""ImageResizeLambda: resize every image uploaded to the source bucket into the destination bucket.

The guide's handler (examples/guide/lambda_function.py) in its four steps - read the record, fetch,
resize, store - for every record of the event, with the key URL-decoded, limits checked before
decoding, and errors a retry can fix raised while the others are logged and listed. Deployed as
``lambda_function.lambda_handler`` with Pillow from a layer; boto3, Pillow and the standard library
only. Settings: settings.py. What each addition prevents: examples/guide/README.md, docs/handler.md.
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
    HTTPClientError,
    IncompleteReadError,
    ResponseStreamingError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
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
from PIL import Image
from settings import DEFAULTS

# The Lambda Python runtime installs a handler on the root logger that prints
# "[LEVEL]\t<time>\t<request id>\t<message>"; AWS samples use the root logger the same way.
logger = logging.getLogger()
logger.setLevel(logging.INFO)

# S3 error codes worth retrying: throttling and server-side failures.
TRANSIENT_S3_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
        "OperationAborted",
        "503",
        "500",
        "502",
        "504",
    }
)


class RetryableEventError(Exception):
    """Raised after all records were tried, when at least one failed in a way a retry can fix."""


class Settings:
    """Everything the handler reads from the environment (over the defaults of settings.py), validated
    once per execution environment."""

    def __init__(self, environ):
        environ = {**DEFAULTS, **environ}
        self.destination_bucket = environ["DESTINATION_BUCKET"].strip() or DEFAULTS["DESTINATION_BUCKET"]
        self.output_key_prefix = environ["OUTPUT_KEY_PREFIX"]  # may be empty: checked per record
        self.max_input_bytes = env_int(environ, "MAX_INPUT_BYTES", int(DEFAULTS["MAX_INPUT_BYTES"]), 1)
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
            "BACKGROUND_COLOR": "#{:02x}{:02x}{:02x}".format(*self.resize.background),
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
# reuse it and its connection pool (creating it lazily would only move the same work into the first
# invocation, and AWS bills INIT too). boto3 reads the endpoint (AWS_ENDPOINT_URL) and the region
# from the environment, so this file runs unchanged on AWS and in the sandbox. Tests replace it.
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

    # Every record, not only Records[0]: each succeeds or fails on its own.
    results = []
    retryable = []  # (result, exception) pairs that a retry could fix, or bugs
    for index, record in enumerate(records):
        result, exc = process_record(record, index)
        results.append(result)
        if exc is not None:
            retryable.append((result, exc))

    summary = {
        "records": len(records),
        **{
            status: sum(r["status"] == status for r in results)
            for status in ("resized", "skipped", "rejected", "failed")
        },
        "results": results,
    }
    if retryable:
        # S3 invokes Lambda asynchronously: only a raised error is retried (a returned statusCode 500
        # counts as success). Raised after the other records, so one bad object does not stop them.
        first_result, first_exc = retryable[0]
        detail = "; ".join(f"{r.get('key')!r}: {r.get('reason')}" for r, _ in retryable)
        logger.error("Result: %s", json.dumps(summary))
        raise RetryableEventError(
            f"{len(retryable)} of {len(records)} record(s) failed in a way a retry may fix ({detail}); "
            "raising so Lambda retries the event."
        ) from first_exc
    return {"statusCode": 200, "body": json.dumps(summary)}


class _RecordEnded(Exception):
    """A record's processing stopped early: skipped, rejected, or failed with ``error`` to raise later."""

    def __init__(self, error: BaseException | None = None):
        super().__init__()
        self.error = error


def process_record(record, index: int = 0):
    """Read the record, fetch, resize, store. Returns (result dict, exception to re-raise later or None)."""
    result = {"index": index}
    try:
        bucket, key = _read_record(record, result)
        started = time.perf_counter()
        data = _fetch(bucket, key, record, result)
        resized = _resize(data, result)
        del data  # the source bytes are not needed while the output is uploaded
        out_key = _store(resized, bucket, key, result)
    except _RecordEnded as ended:
        return result, ended.error
    elapsed_ms = (time.perf_counter() - started) * 1000
    destination = SETTINGS.destination_bucket
    result.update(status="resized", outputBucket=destination, outputKey=out_key, **resized.as_dict())
    logger.info(
        "Resized s3://%s/%s (%dx%d %s) to s3://%s/%s (%dx%d %s, %d bytes) in %.0f ms",
        bucket,
        key,
        resized.source_width,
        resized.source_height,
        resized.source_format,
        destination,
        out_key,
        resized.width,
        resized.height,
        resized.format,
        len(resized.data),
        elapsed_ms,
    )
    return result, None


# ------------------------------------------------------------------------------ 1. read the record


def _read_record(record, result: dict) -> tuple[str, str]:
    """(bucket, decoded key) of an object-created record that is not this function's own output."""
    try:
        s3_part = record["s3"]
        bucket = s3_part["bucket"]["name"]
        # S3 form-encodes keys in events: 'a b.jpg' arrives as 'a+b.jpg'.
        key = urllib.parse.unquote_plus(s3_part["object"]["key"])
        if not isinstance(bucket, str) or not bucket or not key:
            raise ValueError("empty bucket or key")
    except (KeyError, TypeError, ValueError, AttributeError):
        reason = "The record is not an S3 event record (no s3.bucket.name / s3.object.key)."
        logger.error("Record %d rejected: %s", result["index"], reason)
        result.update(status="rejected", reason=reason)
        raise _RecordEnded() from None
    result.update(bucket=bucket, key=key)

    event_name = record.get("eventName") or ""
    if event_name and not event_name.startswith("ObjectCreated:"):
        raise _skip(result, f"{event_name} is not an object-created event.")
    # Loop guard: when results are written into the bucket that triggers the function, every output
    # would trigger it again. Outputs are recognised by the prefix (and, in _fetch, by their metadata).
    prefix = SETTINGS.output_key_prefix
    if bucket == SETTINGS.destination_bucket:
        if not prefix:
            raise _reject(
                result,
                "OUTPUT_KEY_PREFIX is empty and DESTINATION_BUCKET is the source bucket, "
                "so the output would overwrite the source; set a prefix or another "
                "destination bucket.",
            )
        if key.startswith(prefix):
            raise _skip(
                result,
                f"The key starts with OUTPUT_KEY_PREFIX {prefix!r} in the destination "
                "bucket, so it is this function's own output (loop guard).",
            )
    size = (record.get("s3", {}).get("object") or {}).get("size")
    if isinstance(size, int) and size > SETTINGS.max_input_bytes:
        raise _reject(result, _too_many_bytes(size, SETTINGS.max_input_bytes))
    return bucket, key


# ------------------------------------------------------------------------------------- 2. fetch


def _fetch(bucket: str, key: str, record, result: dict) -> bytes:
    """The object's bytes, unless its metadata, its length or the memory says not to download it."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        refusal = _refuse_download(response, bucket, result)
        if refusal is not None:
            response["Body"].close()
            raise refusal
        return response["Body"].read()
    except _RecordEnded:
        raise
    except Exception as exc:  # noqa: BLE001 - classified by _s3_failure
        raise _s3_failure(result, exc, "GetObject", bucket, key) from None


def _refuse_download(response: dict, bucket: str, result: dict) -> _RecordEnded | None:
    metadata = response.get("Metadata") or {}
    if bucket == SETTINGS.destination_bucket and metadata.get("resized-from"):
        return _skip(
            result,
            "The object carries this function's resized-from metadata, so it is an output (loop guard).",
        )
    length = response.get("ContentLength")
    if isinstance(length, int) and length > SETTINGS.max_input_bytes:
        return _reject(result, _too_many_bytes(length, SETTINGS.max_input_bytes))
    too_big = _download_would_not_fit(length, SETTINGS.resize.memory_size_mb)
    if too_big:
        result["kind"] = "too-large"
        return _reject(result, too_big)
    return None


def _download_would_not_fit(length, memory_size_mb: int) -> str | None:
    """The reason to refuse an object before downloading it when the bytes alone would take the
    process past the function's memory (only with MAX_INPUT_BYTES raised: 50 MB fit in 128 MB)."""
    in_use = memory_in_use()
    if not isinstance(length, int) or in_use is None or in_use + length <= memory_size_mb * MIB:
        return None
    need_mb = math.ceil((in_use + length) / MIB)
    return (
        f"The object is {length:,} bytes: with the {in_use / MIB:.0f} MB the function already holds, "
        f"downloading it needs about {need_mb} MB of its {memory_size_mb} MB; it was not downloaded - "
        f"raise the function's memory size to at least {min(10_240, 64 * math.ceil(need_mb / 64))} MB."
    )


def _too_many_bytes(size: int, limit: int) -> str:
    return (
        f"The object is {size:,} bytes, above MAX_INPUT_BYTES={limit:,}; it was not downloaded - "
        "raise MAX_INPUT_BYTES (and the memory size) if such files are expected."
    )


# ------------------------------------------------------------------------------------ 3. resize


def _resize(data: bytes, result: dict):
    try:
        # The memory check adds what the image will need to what this process holds now.
        return resize_image(data, SETTINGS.resize, bytes_in_use=memory_in_use())
    except ImageRejected as exc:
        result["kind"] = exc.kind
        raise _reject(result, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a bug: logged with traceback, raised after the others
        logger.exception("Unexpected error resizing s3://%s/%s", result["bucket"], result["key"])
        result.update(status="failed", reason=f"Unexpected {type(exc).__name__}: {exc}")
        raise _RecordEnded(exc) from None


# ------------------------------------------------------------------------------------- 4. store


def _store(resized, bucket: str, key: str, result: dict) -> str:
    """Write the output as ``OUTPUT_KEY_PREFIX`` + the source key (see output_key_for); its key."""
    destination = SETTINGS.destination_bucket
    _, _, accepted = OUTPUT_FORMATS[resized.format]
    out_key = output_key_for(key, SETTINGS.output_key_prefix, resized.extension, accepted)
    if bucket == destination and out_key == key:  # cannot happen with a non-empty prefix; belt and braces
        raise _reject(result, "The output key equals the source key; the source object is never overwritten.")
    try:
        s3.put_object(
            Bucket=destination,
            Key=out_key,
            Body=resized.data,
            ContentType=resized.content_type,
            # Marks the object as an output for the loop guard; S3 metadata must be ASCII.
            Metadata={"resized-from": urllib.parse.quote(f"{bucket}/{key}", safe="/")},
        )
    except Exception as exc:  # noqa: BLE001 - classified by _s3_failure
        raise _s3_failure(result, exc, "PutObject", destination, out_key) from None
    return out_key


# ------------------------------------------------------------------------------------ outcomes


def _skip(result: dict, reason: str) -> _RecordEnded:
    logger.info("Skipped s3://%s/%s: %s", result.get("bucket"), result.get("key"), reason)
    result.update(status="skipped", reason=reason)
    return _RecordEnded()


def _reject(result: dict, reason: str) -> _RecordEnded:
    """A permanent failure (not an image, too large, object gone, access denied): logged at ERROR and
    listed in the result, not raised - Lambda's retries cannot fix it."""
    result.update(status="rejected", reason=reason)
    logger.error("Rejected s3://%s/%s: %s", result.get("bucket"), result.get("key"), reason)
    return _RecordEnded()


def is_transient(exc: BaseException) -> bool:
    """True for failures a retry can fix: throttling, S3 5xx, connection problems and timeouts."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in TRANSIENT_S3_CODES or (isinstance(status, int) and status >= 500)
    # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError, ...
    return isinstance(
        exc,
        (
            BotoConnectionError,
            HTTPClientError,
            IncompleteReadError,
            ResponseStreamingError,
            ConnectionError,
            TimeoutError,
        ),
    )


def _s3_failure(result: dict, exc: Exception, operation: str, bucket: str, key: str) -> _RecordEnded:
    """Transient: raised after the other records so Lambda retries the event (rewriting the same
    output keys is harmless). Permanent: rejected. Anything else is a bug: logged and raised later."""
    if is_transient(exc):
        reason = (
            f"{operation} s3://{bucket}/{key} failed with a transient error ({_error_text(exc)}); "
            "the event will be retried."
        )
        logger.warning("Transient failure for %s: %s", result.get("key"), reason)
        result.update(status="failed", retryable=True, reason=reason)
        return _RecordEnded(exc)
    if isinstance(exc, (ClientError, BotoCoreError)):
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        if code in ("NoSuchKey", "404") and operation == "GetObject":
            reason = "The object no longer exists (deleted before it was processed)."
        elif code in ("AccessDenied", "403"):
            action = "s3:GetObject" if operation == "GetObject" else "s3:PutObject"
            reason = (
                f"{operation} s3://{bucket}/{key} was denied; give the function's role {action} "
                f"on arn:aws:s3:::{bucket}/*."
            )
        elif code == "NoSuchBucket":
            reason = f"The bucket {bucket!r} does not exist; create it or set DESTINATION_BUCKET."
        else:
            reason = f"{operation} s3://{bucket}/{key} failed: {_error_text(exc)}."
        result["kind"] = "s3"
        return _reject(result, reason)
    logger.exception("Unexpected error during %s of s3://%s/%s", operation, bucket, key)
    result.update(status="failed", reason=f"Unexpected {type(exc).__name__} during {operation}: {exc}")
    return _RecordEnded(exc)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"
