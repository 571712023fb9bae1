"""Gallery, uploads, images and a pair's own log lines.

The gallery is paged, newest first, from the change feed's index (web/feed/), which the sandbox's own
invocation records keep up to date; nothing here lists a bucket.

Uploads go into the source bucket through the S3 API (boto3 against the sandbox's endpoint), so they
take the same path as any client's upload and trigger the function the same way. Images are streamed
back from S3 by bucket and key; a key is only ever an S3 key here, never part of a local path, so
``../../etc/passwd`` names an object like any other.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request

from web import context
from web.errors import ApiError, format_bytes
from web.feed import parse_cursor
from web.gallery import result_for
from web.object_cache import CachedObject, ObjectCache
from web.pair_logs import object_facts, pair_log, pair_records
from web.views.logs import int_arg

bp = Blueprint("gallery", __name__, url_prefix="/api")

# Content types the page stores and serves as they are; anything else (SVG and HTML included, which
# could carry script) is stored and served as application/octet-stream.
IMAGE_TYPES = {
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "image/x-ms-bmp",
}
SAMPLE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif"}
MAX_KEY_BYTES = 1024  # S3's limit for an object key (UTF-8)
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


@bp.get("/gallery")
def gallery():
    """A page of the gallery, newest first: ``limit`` items (default 50) older than the cursor ``before``
    (the previous page's ``next``). Built from the sandbox's records by the change feed, not by listing
    the buckets; ``seq`` is the feed's frame the page reflects (later frames update it)."""
    limit = int_arg("limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    cursor = None
    if request.args.get("before"):
        try:
            cursor = parse_cursor(request.args["before"])
        except ValueError:
            raise ApiError(400, "'before' must be a cursor the gallery returned (its 'next').") from None
    page = context.feed().gallery_page(cursor, limit)
    return jsonify(
        items=page["items"],
        next=page["next"],
        total=page["total"],
        seq=page["seq"],
        listing=page["listing"],
        source_bucket=context.sandbox().config.source_bucket,
    )


@bp.get("/gallery/logs")
def pair_logs():
    """One pair's own log lines, read when the page opens the pair: ``/api/gallery/logs?key=<key>``. Every
    attempt of the invocations that made it (its upload, retries, a redrive), oldest first, each with its
    lines as CloudWatch Logs holds them. Nothing in the gallery's list or the change feed carries them."""
    key = request.args.get("key", "")
    if not key:
        raise ApiError(400, "Say which image: /api/gallery/logs?key=<key>.")
    sb = context.sandbox()
    data = pair_log(sb, sb.config.source_bucket, key, context.function().maximum_retry_attempts)
    # Sizes from S3 itself (HeadObject), not from the event: one request per image, when the pair opens.
    data["source_object"] = object_facts(context.s3(), sb.config.source_bucket, key)
    data["resized_object"] = None
    for record in reversed(pair_records(sb.records.all(), sb.config.source_bucket, key)):
        entry = result_for(record, sb.config.source_bucket, key) or {}
        if record.status == "success" and entry.get("outputKey"):
            data["resized_object"] = object_facts(context.s3(), entry.get("outputBucket"), entry["outputKey"])
            break
    return jsonify(data)


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
            raise ApiError(
                413,
                f"{key} is {format_bytes(size)}, over the page's upload limit of "
                f"{format_bytes(limit)}; upload a smaller file, or start the sandbox "
                f"with a larger --max-upload-mb.",
            )
        prepared.append((storage, key, size))
    bucket = context.sandbox().config.source_bucket
    uploaded = []
    for storage, key, size in prepared:
        response = context.s3().put_object(
            Bucket=bucket, Key=key, Body=storage.stream, ContentType=content_type_for(key, storage.mimetype)
        )
        uploaded.append(
            {"bucket": bucket, "key": key, "bytes": size, "etag": response.get("ETag", "").strip('"')}
        )
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
        raise ApiError(
            404, f"No sample images (*.jpg, *.png, *.gif) in {current_app.config['SAMPLE_IMAGES_DIR']}."
        )
    bucket = context.sandbox().config.source_bucket
    uploaded = []
    for path in files:
        with path.open("rb") as body:
            context.s3().put_object(
                Bucket=bucket, Key=path.name, Body=body, ContentType=content_type_for(path.name, None)
            )
        uploaded.append({"bucket": bucket, "key": path.name, "bytes": path.stat().st_size})
    return jsonify(uploaded=uploaded)


def object_cache() -> ObjectCache:
    return current_app.extensions.setdefault("sandbox_web_objects", ObjectCache())


@bp.get("/object")
def get_object():
    """One object from S3: ``/api/object?bucket=<name>&key=<key>&v=<version>``. ``v`` names the bytes: the
    source's ETag, or ``r-<request id>-<attempt>`` for the output that invocation wrote (the handler does
    not report the output's ETag). A URL with a version never changes its bytes, so the browser keeps it
    and small objects (thumbnails) are kept here too: every open page is served from one S3 read."""
    bucket = request.args.get("bucket", "")
    key = request.args.get("key", "")
    version = request.args.get("v", "")
    if bucket not in context.readable_buckets():
        raise ApiError(404, "The page shows objects of the source and destination buckets only.")
    if not key:
        raise ApiError(400, "Say which object: /api/object?bucket=<bucket>&key=<key>.")
    cache = object_cache()
    if version:
        cached = cache.get((bucket, key, version))
        if cached is not None:
            return _object_response(cached.body, cached.content_type, len(cached.body), cached.etag, True)
    client = context.s3()
    try:
        obj = client.get_object(Bucket=bucket, Key=key)
    except (client.exceptions.NoSuchKey, client.exceptions.NoSuchBucket):
        raise ApiError(404, f"There is no object {key!r} in {bucket}.") from None
    body = obj["Body"]
    content_type = (
        obj.get("ContentType") if obj.get("ContentType") in IMAGE_TYPES else "application/octet-stream"
    )
    etag = (obj.get("ETag") or "").strip('"')
    length = obj.get("ContentLength")
    immutable = bool(version) and (version == etag or version.startswith("r-"))
    if immutable and length is not None and length <= cache.max_object_bytes:
        try:
            data = body.read()
        finally:
            body.close()
        cache.put((bucket, key, version), CachedObject(data, content_type, etag))
        return _object_response(data, content_type, len(data), etag, True)

    def stream():
        try:
            yield from body.iter_chunks(64 * 1024)
        finally:
            body.close()

    return _object_response(stream(), content_type, length, etag, immutable)


def _object_response(body, content_type: str, length: int | None, etag: str, immutable: bool) -> Response:
    response = Response(body, mimetype=content_type)
    if length is not None:
        response.content_length = length
    if etag:
        response.set_etag(etag)
    response.headers["Cache-Control"] = "private, max-age=86400, immutable" if immutable else "no-cache"
    # Served bytes are never a document: no script, no plugins, even if someone stored HTML here.
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response.headers["Content-Disposition"] = "inline"
    return response
