"""Response streaming's pieces: AWS's event-stream framing read back by botocore's parser, the HTTP
integration prelude, and the stream's limits (200 MB, 2 MB/s past the first 6 MB)."""

import json
import threading
import time

from sandbox.lambda_.response_streaming import (
    CAPPED_BYTES_PER_S,
    UNCAPPED_BYTES,
    ResponseStream,
    invoke_complete,
    payload_chunk,
    split_prelude,
)


def test_event_stream_frames_are_read_by_botocores_own_parser():
    from botocore.eventstream import EventStreamBuffer

    buffer = EventStreamBuffer()
    buffer.add_data(payload_chunk(b"\x00binary\xff") + invoke_complete("Unhandled", "boom", "bG9n"))
    first, second = list(buffer)
    assert first.headers == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert first.payload == b"\x00binary\xff"
    assert second.headers[":event-type"] == "InvokeComplete"
    assert json.loads(second.payload) == {
        "ErrorCode": "Unhandled",
        "ErrorDetails": "boom",
        "LogResult": "bG9n",
    }


def test_the_prelude_ends_at_eight_nul_bytes_and_the_body_may_hold_nul_bytes():
    assert split_prelude(b'{"statusCode": 201') is None
    prelude, body = split_prelude(b'{"statusCode": 201}' + b"\x00" * 8 + b"body\x00\x00")
    assert prelude == {"statusCode": 201} and body == b"body\x00\x00"
    assert split_prelude(b"not json" + b"\x00" * 8) == ({}, b"")


def test_past_the_limit_nothing_more_is_passed_on():
    stream = ResponseStream(limit=10)
    stream.start(None)
    assert stream.write(b"0123456789") and not stream.write(b"x")
    assert stream.too_large and stream.content_type == "application/octet-stream"
    stream.finish()
    assert list(stream.chunks()) == [b"0123456789"]


def test_bytes_past_the_first_6_mb_are_paced_to_2_mb_per_second():
    stream = ResponseStream(collect=True)
    stream.start("text/plain")
    stream.write(b"x" * UNCAPPED_BYTES)  # uncapped: no wait
    started = time.monotonic()
    stream.write(b"y" * CAPPED_BYTES_PER_S)  # one second's worth past the cap
    assert time.monotonic() - started >= 0.95
    assert len(stream.collected()) == UNCAPPED_BYTES + CAPPED_BYTES_PER_S


def test_a_reader_gets_each_chunk_as_it_is_written_and_ends_when_the_invocation_does():
    stream = ResponseStream()
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(stream.chunks()))
    reader.start()
    stream.start(None)
    stream.write(b"a")
    stream.write(b"b")
    stream.finish()
    stream.finish()
    reader.join(5)
    assert seen == [b"a", b"b"] and not stream.write(b"late")
