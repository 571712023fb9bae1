"""Response streaming: what a runtime streams for one invocation, on its way to the client as it is written.

A runtime streams by posting its response with ``Lambda-Runtime-Function-Response-Mode: streaming`` and
``Transfer-Encoding: chunked`` (an error part-way through comes as the trailers
``Lambda-Runtime-Function-Error-Type`` and ``Lambda-Runtime-Function-Error-Body``, base64 JSON). The Runtime
API hands each chunk to a ``ResponseStream``; ``InvokeWithResponseStream`` frames them in AWS's event
stream encoding (``PayloadChunk`` events, then ``InvokeComplete``) and a function URL in ``RESPONSE_STREAM``
mode sends them as the HTTP body. As on AWS, the first 6 MB go at full speed, then 2 MB/s, up to 200 MB.

How it compares with AWS: docs/response-streaming.md.
"""

from __future__ import annotations

import binascii
import json
import queue
import struct
import threading
import time
from collections.abc import Iterator

MAX_STREAMED_BYTES = 200 * 1024 * 1024  # AWS: "response streaming functions can return up to 200 MB"
UNCAPPED_BYTES = 6 * 1024 * 1024  # AWS: the first 6 MB stream at full speed...
CAPPED_BYTES_PER_S = 2 * 1024 * 1024  # ...the rest at up to 2 MB/s
HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
DEFAULT_CONTENT_TYPE = "application/octet-stream"  # what AWS's Node runtime sends unless told otherwise
EVENT_STREAM = "application/vnd.amazon.eventstream"
PRELUDE_DELIMITER = b"\x00" * 8
_END = object()


# -- AWS's event stream encoding (application/vnd.amazon.eventstream) ----------------------------------
def _header(name: str, value: str) -> bytes:
    encoded_name, encoded_value = name.encode(), value.encode()
    return (
        struct.pack("B", len(encoded_name))
        + encoded_name
        + b"\x07"  # the header's type: a string
        + struct.pack(">H", len(encoded_value))
        + encoded_value
    )


def event_message(event_type: str, payload: bytes, content_type: str) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC32 of both), headers, payload,
    CRC32 of everything before it."""
    headers = (
        _header(":event-type", event_type)
        + _header(":content-type", content_type)
        + _header(":message-type", "event")
    )
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + headers + payload
    return message + struct.pack(">I", binascii.crc32(message))


def payload_chunk(data: bytes) -> bytes:
    return event_message("PayloadChunk", data, "application/octet-stream")


def invoke_complete(
    error_code: str | None = None, error_details: str | None = None, log_result: str | None = None
) -> bytes:
    body = {"ErrorCode": error_code, "ErrorDetails": error_details, "LogResult": log_result}
    return event_message(
        "InvokeComplete",
        json.dumps({k: v for k, v in body.items() if v is not None}).encode(),
        "application/json",
    )


# -- the HTTP integration response (function URLs) --------------------------------------------------------
def split_prelude(buffer: bytes) -> tuple[dict, bytes] | None:
    """(the JSON prelude, the body bytes after the 8 NUL bytes) once the delimiter has arrived, else None.
    A prelude that is not a JSON object counts as empty."""
    index = buffer.find(PRELUDE_DELIMITER)
    if index < 0:
        return None
    try:
        prelude = json.loads(buffer[:index] or b"{}")
    except ValueError:
        prelude = {}
    return (prelude if isinstance(prelude, dict) else {}), buffer[index + len(PRELUDE_DELIMITER) :]


class ResponseStream:
    """The bytes one invocation streams. The Runtime API thread writes; one reader iterates ``chunks()``
    (or, with ``collect``, the bytes are kept for a buffered invoke of a streaming function)."""

    def __init__(self, collect: bool = False, pace: bool = True, limit: int = MAX_STREAMED_BYTES):
        self.collect = collect
        self.pace = pace
        self.limit = limit
        self.content_type: str | None = None
        self.record = None  # the invocation's record, once it is made (its executed version, for the header)
        self.streamed = False  # the runtime streamed its response (rather than posting a buffered one)
        self.bytes_written = 0
        self.too_large = False
        self._collected: list[bytes] = []
        self._queue: queue.Queue = queue.Queue()
        self._started = threading.Event()
        self._finished = threading.Event()
        self._capped_since: float | None = None

    # -- the runtime's side --------------------------------------------------------------------------
    def start(self, content_type: str | None) -> None:
        self.content_type = content_type or DEFAULT_CONTENT_TYPE
        self.streamed = True
        self._started.set()

    def write(self, data: bytes) -> bool:
        """Pass on one chunk (paced after the first 6 MB); False once the 200 MB limit is passed."""
        if self._finished.is_set() or self.too_large:
            return False
        if self.bytes_written + len(data) > self.limit:
            self.too_large = True
            return False
        self._wait_for_bandwidth(len(data))
        self.bytes_written += len(data)
        if self.collect:
            self._collected.append(data)
        else:
            self._queue.put(data)
        return True

    def _wait_for_bandwidth(self, size: int) -> None:
        if not self.pace or self.bytes_written + size <= UNCAPPED_BYTES:
            return
        if self._capped_since is None:
            self._capped_since = time.monotonic()
        capped = self.bytes_written + size - UNCAPPED_BYTES
        delay = self._capped_since + capped / CAPPED_BYTES_PER_S - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def finish(self) -> None:
        """Nothing more will be written (the invocation ended, whichever way). Safe to call twice."""
        if not self._finished.is_set():
            self._finished.set()
            self._started.set()
            self._queue.put(_END)

    # -- the reader's side ---------------------------------------------------------------------------
    def wait_started(self, timeout: float | None = None) -> bool:
        """Until the runtime starts streaming or the invocation ends."""
        return self._started.wait(timeout)

    def chunks(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            yield item

    def collected(self) -> bytes:
        return b"".join(self._collected)
