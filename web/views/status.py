"""``/api/state``: the sandbox's counters in one small answer (for scripts and tests; the page itself is
told of changes by the change feed, ``/api/feed``), and every function's execution environments."""

from __future__ import annotations

from flask import Blueprint, jsonify

from web import context

bp = Blueprint("status", __name__, url_prefix="/api")


@bp.get("/state")
def state():
    sb = context.sandbox()
    counts = context.feed().counts()
    records = sb.invocations()
    newest = sb.log_events(group=context.log_group(), limit=1)
    runtime = sb.runtime(context.function().function_name)
    return jsonify(
        records_version=sb.records.version,
        feed_seq=counts["seq"],
        log_seq=newest[-1].seq if newest else 0,
        invocations=len(records),
        running=sum(r.status == "running" for r in records),
        dead_lettered=sum(r.status == "dead-lettered" for r in records),
        dead_letter_count=counts["dead_letter_count"],
        environments=len(runtime.describe()) if runtime else 0,
        revision=context.function().revision,
        requests=sb.cost.requests,
        # run_local.py --debug: [{"function", "port", "editor_attached", "held", ...}] for the page to show
        debug=sb.config.debug.describe() if sb.config.debug else [],
    )


@bp.get("/environments")
def environments():
    """Every function's execution environments, each naming its function (the default function's first)."""
    sb = context.sandbox()
    names = [sb.function.function_name] + sorted(
        {fn.function_name for fn in sb.functions()} - {sb.function.function_name}
    )
    found = []
    for name in names:
        runtime = sb.runtime(name)
        found += [{**env, "function_name": name} for env in (runtime.describe() if runtime else [])]
    return jsonify(environments=found)
