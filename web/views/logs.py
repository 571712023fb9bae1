"""The function's CloudWatch Logs: ``/aws/lambda/ImageResizeLambda``, one stream per execution
environment, read from the sandbox's log mirror (the same lines ``aws logs filter-log-events`` returns
from the endpoint)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from .. import context
from ..errors import ApiError

bp = Blueprint("logs", __name__, url_prefix="/api/logs")

DEFAULT_LIMIT, MAX_LIMIT = 1000, 5000
PLATFORM_HEADS = ("INIT_START", "INIT_REPORT", "START", "END", "REPORT")


def int_arg(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"'{name}' must be a whole number; got {raw!r}.") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" to {maximum}" if maximum is not None else " or more"
        raise ApiError(400, f"'{name}' must be from {minimum}{upper}; got {value}.")
    return value


def environment_states() -> dict[str, dict]:
    runtime = context.sandbox().runtime(context.function().function_name)
    if runtime is None:
        return {}
    return {env["log_stream"]: env for env in runtime.describe()}


@bp.get("/streams")
def streams():
    group = context.log_group()
    states = environment_states()
    items = []
    for stream in context.sandbox().logs.streams(group):
        env = states.get(stream["name"])
        items.append({**stream, "state": env["state"] if env else "ended",
                      "environment_id": env["id"] if env else None})
    return jsonify(group=group, streams=items)


def event_json(event) -> dict:
    head = event.message.split(" ", 1)[0].split("\t", 1)[0]
    return {"seq": event.seq, "stream": event.stream, "timestamp_ms": event.timestamp_ms,
            "message": event.message, "request_id": event.request_id, "kind": event.kind,
            "platform": head if head in PLATFORM_HEADS else None}


@bp.get("/events")
def events():
    """Newest ``limit`` events after ``after`` (a sequence number; 0 = from the start), optionally of
    one ``stream``, one ``request_id``, or containing ``filter`` (case-insensitive, as the console's
    plain-text filter)."""
    sb = context.sandbox()
    group = context.log_group()
    after = int_arg("after", 0)
    limit = int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    found = sb.log_events(group=group, stream=request.args.get("stream") or None, after_seq=after,
                          contains=request.args.get("filter") or None,
                          request_id=request.args.get("request_id") or None, limit=limit)
    newest = sb.log_events(group=group, limit=1)
    last_seq = max(newest[-1].seq if newest else 0, after)
    return jsonify(group=group, events=[event_json(e) for e in found], last_seq=last_seq)
