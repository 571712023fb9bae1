"""Small accessors the views share: the sandbox, its change feed, an S3 client for its endpoint, the
buckets the page may read."""

from __future__ import annotations

import threading

from flask import current_app

from sandbox.interface import SandboxView, log_group_name
from web.feed import ChangeFeed, feed_for

_client_lock = threading.Lock()


def sandbox() -> SandboxView:
    """The sandbox the app was made for, seen through its declared interface."""
    return current_app.extensions["sandbox"]


def feed() -> ChangeFeed:
    """The sandbox's change feed (web/feed/), shared by every page and every app over the sandbox."""
    return feed_for(sandbox())


def s3():
    """A boto3 S3 client against the sandbox's endpoint (``sb.endpoint_url``): the page's uploads and
    downloads take the same path as any other client's."""
    client = current_app.extensions.get("sandbox_web_s3")
    if client is None:
        with _client_lock:
            client = current_app.extensions.get("sandbox_web_s3")
            if client is None:
                client = sandbox().client("s3")
                current_app.extensions["sandbox_web_s3"] = client
    return client


def function():
    return sandbox().function


def log_group() -> str:
    return log_group_name(function().function_name)


def destination_buckets() -> list[str]:
    """The guide's destination bucket, and the one the function is configured to write to, if other."""
    buckets = [sandbox().config.destination_bucket]
    configured = (function().environment or {}).get("DESTINATION_BUCKET", "").strip()
    if configured and configured not in buckets:
        buckets.append(configured)
    return buckets


def readable_buckets() -> set[str]:
    """The only buckets the page streams objects from."""
    return {sandbox().config.source_bucket, *destination_buckets()}
