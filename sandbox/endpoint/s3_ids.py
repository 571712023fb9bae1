"""The ids S3 gives every request (``x-amz-request-id``, ``x-amz-id-2``), in AWS's formats: the endpoint's
answers, the S3 events and the test events carry them."""

from __future__ import annotations

import base64
import os


def new_s3_request_id() -> str:
    """An S3 request id: 16 upper-case hex digits (x-amz-request-id)."""
    return os.urandom(8).hex().upper()


def new_host_id() -> str:
    """An S3 extended request id (x-amz-id-2): 76 base64 characters."""
    return base64.b64encode(os.urandom(57)).decode()
