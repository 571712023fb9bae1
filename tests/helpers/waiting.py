"""Waiting on events, not on time: the tests' only ways to wait.

- ``eventually(probe, until=..., what=...)`` calls ``probe`` until its value satisfies ``until`` and returns
  that value; for state the tests can only poll (an S3 listing, a process table, a page's counter).
- ``wait_for_record(sb, predicate, what=...)`` is the invocation log's own wait (it wakes on changes).
- ``settle(sb)`` returns once the sandbox is provably idle, so "nothing more happened" can be asserted.

Each fails with an AssertionError that says what was awaited and the last thing seen. A timeout is only the
bound after which a test gives up; no outcome depends on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import unquote_plus

T = TypeVar("T")

TIMEOUT_S = 60.0  # only the bound after which a test gives up: generous, for a loaded machine


def eventually(
    probe: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    what: str,
    timeout: float = TIMEOUT_S,
    interval: float = 0.05,
) -> T:
    """Call ``probe()`` until ``until(value)`` is true and return that value. ``interval`` is the pause
    between two calls; ``timeout`` bounds the whole wait."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}; last value seen: {value!r}"
            )
        time.sleep(interval)


def _describe(records) -> str:
    return "; ".join(f"{r.id} {r.status}{' final' if r.final else ''} {r.event!r:.60}" for r in records)


def wait_for_record(sb, predicate, *, what: str, timeout: float = TIMEOUT_S):
    """The invocation record that satisfies ``predicate`` (the log's own wait, woken by each change)."""
    record = sb.records.wait_for(predicate, timeout)
    if record is None:
        raise AssertionError(
            f"timed out after {timeout:g} s waiting for {what}; newest records: "
            f"{_describe(sb.records.all()[-5:]) or 'none'}"
        )
    return record


def settle(sb, timeout: float = TIMEOUT_S) -> None:
    """Return once every invocation record is final: nothing queued, running, throttled or waiting for a
    retry. Only then is "nothing more happened" a fact rather than a guess.

    The S3 trigger routes writes to the invoker one at a time, in order, so a write a handler made is
    invoked once it is routed; to be sure writes made so far are routed, write one more object to the
    source bucket and wait for its invocation (``route_s3_writes``) before settling."""
    if not sb.records.wait_idle(timeout):
        busy = [r for r in sb.records.all() if not r.final]
        raise AssertionError(
            f"timed out after {timeout:g} s waiting for the sandbox to be idle; still open: {_describe(busy)}"
        )


def route_s3_writes(sb, key: str = "settle-marker.txt"):
    """Write a marker object to the source bucket and wait for its invocation: every S3 write made before it
    has then become its invocation (the sandbox routes writes one at a time, first in first out). Returns the
    marker's record; its handler must not write again (a text file is rejected by the project's handler)."""
    bucket = sb.config.source_bucket
    sb.s3.put_object(Bucket=bucket, Key=key, Body=b"marker: everything written before me has been routed")

    def is_marker(record) -> bool:
        try:
            s3 = record.event["Records"][0]["s3"]
        except (KeyError, IndexError, TypeError):
            return False
        return s3["bucket"]["name"] == bucket and unquote_plus(s3["object"]["key"]) == key

    return wait_for_record(
        sb, lambda r: r.final and is_marker(r), what=f"the invocation for the marker s3://{bucket}/{key}"
    )
