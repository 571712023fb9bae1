"""Invocations: one row per attempt (retries keep the request id and count up ``attempt``), paged
newest first from the change feed's index, and one invocation in full: its event, its log lines and the
guide's five stages."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from sandbox.interface import log_group_name
from web import context
from web.attempt_logs import attempt_log
from web.errors import ApiError
from web.gallery import will_retry
from web.rows import invocation_row
from web.stages import guide_stages, invocation_kind
from web.views.logs import int_arg

bp = Blueprint("invocations", __name__, url_prefix="/api/invocations")

PAGE_SIZE, MAX_PAGE_SIZE = 50, 500


@bp.get("")
def list_invocations():
    """A page of attempts, newest first: ``limit`` (default 50) made before the attempt whose ``serial``
    is ``before`` (the previous page's ``next``), only those of one ``function`` and of one ``trigger``
    when asked. ``functions`` and ``triggers`` list those of every attempt kept (the filters' choices).
    Later changes reach the page through the change feed."""
    limit = int_arg("limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    before = int_arg("before", 0, 1) if request.args.get("before") else None
    retries = context.function().maximum_retry_attempts
    page = context.feed().invocation_page(
        before,
        limit,
        function_name=request.args.get("function") or None,
        trigger=request.args.get("trigger") or None,
    )
    return jsonify(
        invocations=[invocation_row(record, retries, serial) for serial, record in page["records"]],
        next=page["next"],
        total=page["total"],
        seq=page["seq"],
        functions=sorted(set(page["functions"]) | {fn.function_name for fn in context.sandbox().functions()}),
        triggers=page["triggers"],
    )


@bp.get("/<request_id>/<int:attempt>")
def invocation(request_id: str, attempt: int):
    sb = context.sandbox()
    attempts = sb.records.find(request_id)
    record = next((r for r in attempts if r.attempt == attempt), None)
    if record is None:
        raise ApiError(404, f"No invocation {request_id} (attempt {attempt}) in this session.")
    data = record.as_dict()
    runtime = sb.runtime(record.function_name)  # the retries of the function that ran, not the default one
    retries = (runtime.function if runtime else context.function()).maximum_retry_attempts
    data["retry"] = record.attempt - 1
    data["will_retry"] = will_retry(record, retries)
    data["guide_stages"] = guide_stages(record, retries)
    data["kind"] = invocation_kind(record)
    data["log_group"] = log_group_name(record.function_name)
    data["logs"] = attempt_log(sb, record, attempts)
    return jsonify(data)
