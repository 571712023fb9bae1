"""Traces: one invocation's path across services (the hops of its trace, in order, with their timings)
and the session's service map (resources and functions, with the calls between them counted). Read-only;
the sandbox records them (sandbox/telemetry/traces.py)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from web import context
from web.errors import ApiError

bp = Blueprint("traces", __name__, url_prefix="/api/traces")


def _root(trace_header: str | None) -> str | None:
    for part in (trace_header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "Root" and value:
            return value
    return None


@bp.get("/invocations/<request_id>/<int:attempt>")
def invocation_path(request_id: str, attempt: int):
    """The hops of the trace an invocation attempt belongs to: what led to it, what it did, what followed."""
    sb = context.sandbox()
    record = next((r for r in sb.records.find(request_id) if r.attempt == attempt), None)
    if record is None:
        raise ApiError(404, f"No invocation {request_id} (attempt {attempt}) in this session.")
    traces = sb.traces
    root = traces.root_of(record.request_id) or _root(record.trace_id)
    hops = traces.trace(root) if root else None
    note = None
    if hops is None:
        note = (
            f"This trace is no longer kept: the sandbox keeps the newest {traces.keep:,} traces "
            f"({traces.forgotten:,} older ones forgotten so far)."
            if traces.forgotten
            else "No hop of this invocation's trace is recorded (yet). Traces are kept in memory only: an "
            "invocation restored from a state directory (--state-dir) has none."
        )
    return jsonify(
        request_id=record.request_id,
        attempt=record.attempt,
        function_name=record.function_name,
        status=record.status,
        final=record.final,
        trace_id=root,
        hops=hops or [],
        note=note,
    )


@bp.get("/map")
def service_map():
    """Every resource and function of the session that took part in a trace, and the edges between them
    (calls or deliveries, counted, with their errors)."""
    return jsonify(context.sandbox().traces.service_map())
