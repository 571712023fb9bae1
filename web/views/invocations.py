"""Invocations: one row per attempt (retries keep the request id and count up ``attempt``), paged
newest first from the change feed's index, and one invocation in full: its event, its log lines and the
guide's five stages."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from .. import context
from ..errors import ApiError
from ..gallery import will_retry
from ..rows import invocation_row, log_event_json
from .logs import int_arg

bp = Blueprint("invocations", __name__, url_prefix="/api/invocations")

PAGE_SIZE, MAX_PAGE_SIZE = 50, 500


@bp.get("")
def list_invocations():
    """A page of attempts, newest first: ``limit`` (default 50) made before the attempt whose ``serial``
    is ``before`` (the previous page's ``next``). Later changes reach the page through the change feed."""
    limit = int_arg("limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    before = int_arg("before", 0, 1) if request.args.get("before") else None
    retries = context.function().maximum_retry_attempts
    page = context.feed().invocation_page(before, limit)
    return jsonify(invocations=[invocation_row(record, retries, serial) for serial, record in page["records"]],
                   next=page["next"], total=page["total"], seq=page["seq"])


@bp.get("/<request_id>/<int:attempt>")
def invocation(request_id: str, attempt: int):
    sb = context.sandbox()
    record = next((r for r in sb.records.find(request_id) if r.attempt == attempt), None)
    if record is None:
        raise ApiError(404, f"No invocation {request_id} (attempt {attempt}) in this session.")
    data = record.as_dict()
    data["retry"] = record.attempt - 1
    data["will_retry"] = will_retry(record, context.function().maximum_retry_attempts)
    logs = [log_event_json(e) for e in sb.log_events(group=context.log_group(), request_id=request_id)]
    logs = lines_of_attempt(logs, record, sb.records.find(request_id))
    if record.cold_start and record.log_stream:
        # A cold start's environment was made for this invocation: the lines its stream holds before
        # START, which carry no request id (INIT_START, module-level logging, an INIT error's
        # traceback, INIT_REPORT), are this invocation's INIT phase.
        first = logs[0]["seq"] if logs else None
        init = [log_event_json(e) for e in sb.log_events(group=context.log_group(), stream=record.log_stream)
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
