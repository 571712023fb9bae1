"""Recursive loop detection, as Lambda does it for S3 (and SQS/SNS) chains.

AWS counts the invocations of one chain through the X-Ray trace header (botocore copies
``_X_AMZN_TRACE_ID`` into ``X-Amzn-Trace-Id`` on every request a function makes) and stops the chain after
about 16. The sandbox carries the count as ``Lineage=<function hash>:<count>`` in that header; AWS's exact
encoding is not public. ``PutFunctionRecursionConfig`` with ``Allow`` lets a function loop.
"""

from __future__ import annotations

import hashlib
import os

from sandbox.telemetry.traces import new_root

RECURSION_LIMIT = 16


def lineage_depth(trace_header: str | None) -> int:
    """How many invocations of a chain came before the write that carried this trace header."""
    for part in (trace_header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "Lineage":
            try:
                return int(value.rsplit(":", 1)[-1])
            except ValueError:
                return 0
    return 0


def new_trace_id(function_name: str, depth: int, root: str | None = None) -> str:
    """The trace header the runtime hands the function (Lambda-Runtime-Trace-Id), with its lineage: on the
    trace ``root`` when the event continues one (an ``AWSTraceHeader``, an API request's trace), else on
    a new trace."""
    root = root or new_root()
    lineage = hashlib.sha256(function_name.encode()).hexdigest()[:8]
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled=0;Lineage={lineage}:{depth}"


def recursive_loop_message(function_name: str, depth: int) -> str:
    return (
        f"Lambda has detected that {function_name} is part of a recursive loop (invocation {depth} of one "
        f"chain of writes) and stopped this invocation. The event was sent to the dead-letter queue."
    )
