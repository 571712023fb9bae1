"""Gallery, uploads and images.

Uploads go into the source bucket through the S3 API (boto3 against the sandbox's endpoint), so they
take the same path as any client's upload and trigger the function the same way. Images are streamed
back from S3 by bucket and key; a key is only ever an S3 key here, never part of a local path, so
``../../etc/passwd`` names an object like any other.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request

from .. import context
from ..errors import ApiError, format_bytes
from ..gallery import build_gallery

bp = Blueprint("gallery", __name__, url_prefix="/api")

# Content types the page stores and serves as they are; anything else (SVG and HTML included, which
# could carry script) is stored and served as application/octet-stream.
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff",
               "image/x-ms-bmp"}
SAMPLE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif"}
MAX_KEY_BYTES = 1024  # S3's limit for an object key (UTF-8)


def _list(bucket: str) -> list[dict]:
    client = context.s3()
    objects: list[dict] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            objects.extend(page.get("Contents", []))
    except client.exceptions.NoSuchBucket:
        return []
    return objects


@bp.get("/gallery")
def gallery():
    sb = context.sandbox()
    source_bucket = sb.config.source_bucket
    function = context.function()
    outputs = {}
    for bucket in context.destination_buckets():
        for obj in _list(bucket):
            outputs[(bucket, obj["Key"])] = obj
    sources = _list(source_bucket)
    if source_bucket in context.destination_buckets():
        outputs.update({(source_bucket, o["Key"]): o for o in sources})
    items = build_gallery(source_bucket, sources, outputs, sb.invocations(),
                          maximum_retry_attempts=function.maximum_retry_attempts,
                          default_destination=context.destination_buckets()[-1],
                          default_prefix=(function.environment or {}).get("OUTPUT_KEY_PREFIX", "resized-"),
                          limit=int(current_app.config["GALLERY_LIMIT"]))
    return jsonify(items=items, total=len(sources), source_bucket=source_bucket,
                   version=sb.records.version)


def object_key(filename: str | None) -> str:
    """The S3 key for an uploaded file: its name as given (spaces and all - the S3 event then carries it
    form-encoded, as on AWS). Only checked against S3's own rules."""
    key = filename or ""
    if not key.strip():
        raise ApiError(400, "The file has no name; S3 needs a key for every object.")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ApiError(400, f"The file name is longer than S3's {MAX_KEY_BYTES}-byte limit for a key.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise ApiError(400, "The file name contains control characters; rename the file and try again.")
    return key


def content_type_for(key: str, declared: str | None) -> str:
    declared = (declared or "").split(";")[0].strip().lower()
    if declared in IMAGE_TYPES:
        return declared
    guessed = mimetypes.guess_type(key)[0]
    return guessed if guessed in IMAGE_TYPES else "application/octet-stream"


def _size(stream) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


@bp.post("/upload")
def upload():
    files = [f for f in request.files.getlist("file") if f is not None]
    if not files:
        raise ApiError(400, "Choose at least one image to upload (form field 'file').")
    limit = int(current_app.config["MAX_UPLOAD_BYTES"])
    prepared = []
    for storage in files:
        key = object_key(storage.filename)
        size = _size(storage.stream)
        if size > limit:
            raise ApiError(413, f"{key} is {format_bytes(size)}, over the page's upload limit of "
                                f"{format_bytes(limit)}; upload a smaller file, or start the sandbox "
                                f"with a larger --max-upload-mb.")
        prepared.append((storage, key, size))
    bucket = context.sandbox().config.source_bucket
    uploaded = []
    for storage, key, size in prepared:
        response = context.s3().put_object(Bucket=bucket, Key=key, Body=storage.stream,
                                           ContentType=content_type_for(key, storage.mimetype))
        uploaded.append({"bucket": bucket, "key": key, "bytes": size,
                         "etag": response.get("ETag", "").strip('"')})
    return jsonify(uploaded=uploaded)


def sample_files() -> list[Path]:
    folder = Path(current_app.config["SAMPLE_IMAGES_DIR"])
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SAMPLE_SUFFIXES)


@bp.post("/upload-samples")
def upload_samples():
    files = sample_files()
    if not files:
        raise ApiError(404, f"No sample images (*.jpg, *.png, *.gif) in "
                            f"{current_app.config['SAMPLE_IMAGES_DIR']}.")
    bucket = context.sandbox().config.source_bucket
    uploaded = []
    for path in files:
        with path.open("rb") as body:
            context.s3().put_object(Bucket=bucket, Key=path.name, Body=body,
                                    ContentType=content_type_for(path.name, None))
        uploaded.append({"bucket": bucket, "key": path.name, "bytes": path.stat().st_size})
    return jsonify(uploaded=uploaded)


@bp.get("/object")
def get_object():
    """Stream one object from S3: ``/api/object?bucket=<name>&key=<key>`` (``v`` = ETag, for caching)."""
    bucket = request.args.get("bucket", "")
    key = request.args.get("key", "")
    if bucket not in context.readable_buckets():
        raise ApiError(404, "The page shows objects of the source and destination buckets only.")
    if not key:
        raise ApiError(400, "Say which object: /api/object?bucket=<bucket>&key=<key>.")
    client = context.s3()
    try:
        obj = client.get_object(Bucket=bucket, Key=key)
    except (client.exceptions.NoSuchKey, client.exceptions.NoSuchBucket):
        raise ApiError(404, f"There is no object {key!r} in {bucket}.") from None
    body = obj["Body"]
    content_type = obj.get("ContentType") if obj.get("ContentType") in IMAGE_TYPES else "application/octet-stream"

    def stream():
        try:
            yield from body.iter_chunks(64 * 1024)
        finally:
            body.close()

    response = Response(stream(), mimetype=content_type)
    if obj.get("ContentLength") is not None:
        response.content_length = obj["ContentLength"]
    etag = (obj.get("ETag") or "").strip('"')
    if etag:
        response.set_etag(etag)
    # The URL carries the ETag when the page knows it, so the bytes behind it never change.
    response.headers["Cache-Control"] = "private, max-age=86400, immutable" if request.args.get("v") == etag \
        and etag else "no-cache"
    # Served bytes are never a document: no script, no plugins, even if someone stored HTML here.
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response.headers["Content-Disposition"] = "inline"
    return response

