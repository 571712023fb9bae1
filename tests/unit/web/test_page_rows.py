"""The Invocations table's row (web/rows.py) for a function that streamed its response: the bytes it
streamed travel with the row, so the page shows them where a buffered function has a result."""

from __future__ import annotations

import json

from sandbox.lambda_.invocation import InvocationRecord
from web.rows import invocation_row


def _record(**fields) -> InvocationRecord:
    return InvocationRecord(
        request_id="req-1",
        function_name="StreamingProgressLambda",
        event={"steps": 3},
        invocation_type="RequestResponse",
        trigger="function-url",
        **fields,
    )


def test_a_streamed_invocations_row_carries_the_bytes_it_streamed():
    row = invocation_row(_record(streamed_bytes=1234, result=None), maximum_retry_attempts=2)
    assert row["streamed_bytes"] == 1234
    assert json.loads(json.dumps(row))["streamed_bytes"] == 1234  # as the page receives it


def test_a_buffered_invocations_row_has_no_streamed_bytes():
    row = invocation_row(_record(result={"statusCode": 200}), maximum_retry_attempts=2)
    assert row["streamed_bytes"] is None
