"""Every function of the sandbox, as the console's Functions list: name, runtime, memory, timeout, its
triggers, its last invocation and error count, its log group and execution environments. The page shows
it first when the sandbox runs more than the guide's function, and the Configuration tab's environments
table covers every function from it."""

from __future__ import annotations

from flask import Blueprint, jsonify

from sandbox.interface import log_group_name
from web import context

bp = Blueprint("functions", __name__, url_prefix="/api")

FAILED = {"error", "timeout", "out of memory"}  # attempts that failed, as the Errors metric counts them


def trigger_label(trigger: dict) -> str:
    """A trigger in a few words: its kind and what it reads, by name (``SQS queue image-resize-queue``,
    ``DynamoDB stream of table image-captions``, ``EventBridge rule bucket-report, cron(0 3 * * ? *)``)."""
    kind, source = str(trigger["kind"]), str(trigger["source"])
    if source.startswith("arn:"):
        resource = source.split(":", 5)[-1]  # queue-name, table/<t>/stream/<label>, stream/<name>
        parts = resource.split("/")
        source = f"of table {parts[1]}" if parts[0] == "table" and len(parts) > 1 else parts[-1]
    words = source.split(" ", 1)
    if len(words) == 2 and kind.lower().endswith(words[0].lower()):
        source = words[1]  # "EventBridge rule" + "rule bucket-report": the kind says it once
    label = f"{kind} {source}"
    detail = str(trigger.get("detail") or "")
    if kind.startswith(("EventBridge", "Scheduler")) and detail:
        label += f", {detail.split(' -> ', 1)[0]}"  # the schedule expression
    return label


def function_rows(sb) -> list[dict]:
    default = sb.function.function_name
    functions = {fn.function_name: fn for fn in sb.functions()}
    functions.setdefault(default, sb.function)
    triggers: dict[str, list[str]] = {}
    for trigger in sb.triggers():
        # a trigger naming a version or an alias ("name:live") is listed with its function
        function, _, qualifier = (trigger.get("function") or "").partition(":")
        label = trigger_label(trigger) + (f" (to {qualifier})" if qualifier else "")
        triggers.setdefault(function, []).append(label)
    last: dict[str, object] = {}
    errors: dict[str, int] = {}
    for record in sb.records.all():  # oldest first: the last one seen is the newest
        last[record.function_name] = record
        if str(record.status) in FAILED:
            errors[record.function_name] = errors.get(record.function_name, 0) + 1
    rows = []
    for name in [default] + sorted(n for n in functions if n != default):
        fn, newest, runtime = functions[name], last.get(name), sb.runtime(name)
        rows.append(
            {
                "function_name": name,
                "runtime": fn.runtime,
                "handler": fn.handler,
                "memory_size": fn.memory_size,
                "timeout": fn.timeout,
                "triggers": triggers.get(name, []),
                "log_group": log_group_name(name),
                "last_invocation": None
                if newest is None
                else {
                    "request_id": newest.request_id,
                    "attempt": newest.attempt,
                    "status": str(newest.status),
                    "trigger": newest.trigger,
                    "detected_at": newest.detected_at,
                },
                "error_count": errors.get(name, 0),
                "environments": runtime.describe() if runtime else [],
            }
        )
    return rows


@bp.get("/functions")
def functions():
    sb = context.sandbox()
    return jsonify(functions=function_rows(sb), default=sb.function.function_name)
