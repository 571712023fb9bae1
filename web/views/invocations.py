"""Invocations: one row per attempt (retries keep the request id and count up ``attempt``), and one
invocation in full: its event, its log lines and the guide's five stages."""
from __future__ import annotations

from flask import Blueprint, jsonify

from .. import context
from ..errors import ApiError
from ..gallery import will_retry
from .logs import event_json, int_arg

bp = Blueprint("invocations", __name__, url_prefix="/api/invocations")

ROW_FIELDS = ("id", "request_id", "function_name", "key", "bucket", "trigger", "invocation_type", "attempt",
              "status", "cold_start", "environment_id", "log_stream", "duration_ms", "billed_duration_ms",
              "init_duration_ms", "memory_size_mb", "max_memory_used_mb", "cost_usd", "gb_seconds",
              "error_type", "error_message", "detected_at")


def row(record, maximum_retry_attempts: int) -> dict:
    data = record.as_dict()
    out = {name: data.get(name) for name in ROW_FIELDS}
    out["retry"] = record.attempt - 1  # "retry 1" is the 2nd attempt
    out["will_retry"] = will_retry(record, maximum_retry_attempts)
    return out


@bp.get("")
def list_invocations():
    limit = int_arg("limit", 500, 1, 5000)
    sb = context.sandbox()
    retries = context.function().maximum_retry_attempts
    records = sb.invocations()
    return jsonify(invocations=[row(r, retries) for r in records[:limit]], total=len(records),
                   version=sb.records.version)


@bp.get("/<request_id>/<int:attempt>")
def invocation(request_id: str, attempt: int):
    sb = context.sandbox()
    record = next((r for r in sb.records.find(request_id) if r.attempt == attempt), None)
    if record is None:
        raise ApiError(404, f"No invocation {request_id} (attempt {attempt}) in this session.")
    data = record.as_dict()
    data["retry"] = record.attempt - 1
    data["will_retry"] = will_retry(record, context.function().maximum_retry_attempts)
    logs = [event_json(e) for e in sb.log_events(group=context.log_group(), request_id=request_id)]
    logs = lines_of_attempt(logs, record, sb.records.find(request_id))
    if record.cold_start and record.log_stream:
        # A cold start's environment was made for this invocation: the lines its stream holds before
        # START, which carry no request id (INIT_START, module-level logging, an INIT error's
        # traceback, INIT_REPORT), are this invocation's INIT phase.
        first = logs[0]["seq"] if logs else None
        init = [event_json(e) for e in sb.log_events(group=context.log_group(), stream=record.log_stream)
                if e.request_id is None and (first is None or e.seq < first)]
        logs = init + logs
    data["logs"] = logs
    return jsonify(data)


def lines_of_attempt(lines: list[dict], record, attempts: list) -> list[dict]:
    """Retries keep the request id, so one request's lines hold every attempt: split them at each
    START line and keep this attempt's part (all of them when the two do not line up)."""
    segments: list[list[dict]] = []
    for line in lines:
        if line["platform"] == "START" or not segments:
            segments.append([])
        segments[-1].append(line)
    started = sorted((r.attempt for r in attempts if r.started_at is not None))
    if len(segments) <= 1 or len(segments) != len(started) or record.attempt not in started:
        return lines
    return segments[started.index(record.attempt)]
