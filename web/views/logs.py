"""Every function's CloudWatch Logs: ``/aws/lambda/<function>``, one stream per execution environment,
read from the sandbox's log mirror (the same lines ``aws logs filter-log-events`` returns from the
endpoint). ``group`` picks the log group; the default function's group when it is left out."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from web import context
from web.errors import ApiError
from web.log_groups import log_groups

bp = Blueprint("logs", __name__, url_prefix="/api/logs")

DEFAULT_LIMIT, MAX_LIMIT = 200, 5000


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


def chosen_group() -> tuple[str, str | None]:
    """The log group asked for (``group``) and its function's name; 404 for a group nobody wrote to."""
    asked = request.args.get("group") or context.log_group()
    for known in log_groups(context.sandbox()):
        if known["group"] == asked:
            return asked, known["function_name"]
    raise ApiError(
        404, f"No log group {asked!r} in this sandbox: its functions' groups are listed by /api/logs/groups."
    )


def environment_states(function_name: str | None) -> dict[str, dict]:
    runtime = context.sandbox().runtime(function_name) if function_name else None
    if runtime is None:
        return {}
    return {env["log_stream"]: env for env in runtime.describe()}


@bp.get("/groups")
def groups():
    return jsonify(groups=log_groups(context.sandbox()), default=context.log_group())


@bp.get("/streams")
def streams():
    group, function_name = chosen_group()
    states = environment_states(function_name)
    items = []
    for stream in context.sandbox().logs.streams(group):
        env = states.get(stream["name"])
        items.append(
            {
                **stream,
                "state": env["state"] if env else "ended",
                "environment_id": env["id"] if env else None,
            }
        )
    return jsonify(group=group, streams=items)


@bp.get("/events")
def events():
    """The group's log lines, oldest first, optionally of one ``stream``, one ``request_id``, or
    containing ``filter`` (case-insensitive, as the console's plain-text filter): the newest ``limit``
    (default 200) before the sequence number ``before`` (the previous page's ``next_before``), or - for a
    live tail - the newest ``limit`` after ``after``. Read from the change feed's copy of the lines."""
    after = int_arg("after", 0) if request.args.get("after") not in (None, "") else None
    before = int_arg("before", 0, 1) if request.args.get("before") not in (None, "") else None
    if after is not None and before is not None:
        raise ApiError(400, "Ask for lines 'after' one sequence number or 'before' one, not both.")
    limit = int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    group, _ = chosen_group()
    query = dict(
        before=before,
        after=after,
        stream=request.args.get("stream") or None,
        contains=request.args.get("filter") or None,
        request_id=request.args.get("request_id") or None,
        limit=limit,
    )
    page = context.feed().log_page(group=group, **query)
    return jsonify(
        group=group,
        events=page["events"],
        last_seq=page["last_seq"],
        next_before=page["next_before"],
        seq=page["seq"],
    )
