"""examples/response-streaming end to end: `run_local.py --example response-streaming`, its function URL
read with Python's http.client as the bytes arrive, and the example left out with one sentence on a
machine without node."""

from __future__ import annotations

import re
import time
import urllib.parse
from http.client import HTTPConnection

import pytest

from helpers.examples import started_run_local

pytestmark = pytest.mark.slow
PAUSE_S = 0.4  # examples/response-streaming/index.mjs: PAUSE_MS between steps


@pytest.fixture(scope="module")
def example():
    from sandbox.guide.example_setups.response_streaming import missing

    reason = missing()
    if reason:
        pytest.skip(reason)
    with started_run_local("--example", "response-streaming") as (env, banner):
        yield env, banner


def _arrivals(url: str) -> tuple[object, list[tuple[float, bytes]]]:
    """The response and (seconds since the request, line) for each line of its body, as it arrives."""
    parts = urllib.parse.urlsplit(url)
    connection = HTTPConnection(parts.hostname, parts.port, timeout=60)
    started = time.monotonic()
    connection.request("GET", f"{parts.path}?{parts.query}")
    response = connection.getresponse()
    lines = []
    while line := response.readline():  # http.client undoes the chunking; readline returns as a line arrives
        lines.append((time.monotonic() - started, line))
    connection.close()
    return response, lines


def test_the_function_url_sends_each_step_as_the_function_writes_it(example):
    env, banner = example
    url = re.search(r"\(or (http://127\.0\.0\.1:\d+/_aws/lambda-url/\w+/\?steps=3)\)", banner).group(1)
    response, lines = _arrivals(url)

    assert response.status == 200
    assert response.getheader("Content-Type") == "text/plain; charset=utf-8"  # HttpResponseStream.from's
    request_id = response.getheader("X-Job-Id")
    assert request_id and response.getheader("x-amzn-RequestId") == request_id
    body = [line.decode() for _, line in lines]
    assert body[0] == f"job {request_id}: 3 steps\n"
    assert [b.split(" (")[0] for b in body[1:]] == [
        "step 1/3: read the upload",
        "step 2/3: decode the image",
        "step 3/3: resize to half",
        "done\n",
    ]
    # The function sleeps PAUSE_S between its writes: had the response been buffered, the first line would
    # arrive with the last. A slower machine only widens the gap.
    first, last = lines[0][0], lines[-1][0]
    assert last - first >= 3 * PAUSE_S * 0.9, lines


def test_without_node_all_the_examples_note_the_streaming_one_in_one_sentence(monkeypatch):
    from sandbox.guide import example_setups
    from sandbox.guide.example_setups import response_streaming

    monkeypatch.setattr(response_streaming, "node_binary", lambda: None)
    monkeypatch.setattr(example_setups, "_MODULES", ("response_streaming",))
    lines = example_setups.set_up(object(), ["all"])
    assert lines[1].startswith(
        "  not set up: the response-streaming example needs Node.js: no `node` on PATH"
    )
    with pytest.raises(response_streaming.ExampleUnavailable):
        example_setups.set_up(object(), ["response-streaming"])
