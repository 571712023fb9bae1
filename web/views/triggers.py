"""Every function's triggers, as their event sources describe them (S3 notifications, queue and stream
mappings with their state and last result, API routes with their URL, schedules with their next fire
time), and the run-now button of a scheduled rule."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from web import context
from web.errors import ApiError

bp = Blueprint("triggers", __name__, url_prefix="/api/triggers")


@bp.get("")
def list_triggers():
    return jsonify(triggers=context.sandbox().triggers())


@bp.post("/fire")
def fire_now():
    """Fire a scheduled rule (or a Scheduler schedule) now; its next time is unchanged."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        raise ApiError(400, 'Send the rule to fire, e.g. {"name": "bucket-report"}.')
    kind = "schedule" if data.get("kind") == "schedule" else "rule"
    records = context.sandbox().fire_rule(data["name"], kind, data.get("group"))
    return jsonify(
        fired=[{"request_id": r.request_id, "function_name": r.function_name} for r in records],
        message=f"Fired {data['name']} now: {len(records)} invocation(s).",
    )
