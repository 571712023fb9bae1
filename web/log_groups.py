"""Every function's CloudWatch log group, as the console's log-group list: the groups of the functions
the sandbox runs and any other group lines were written to, and a page of one group's lines.

The change feed (web/feed/) keeps a copy of the default function's group and pushes its new lines; the
other groups are read here from the sandbox's log mirror when asked (the page asks again when the feed
says an invocation changed, so nothing is polled).
"""

from __future__ import annotations

from sandbox.interface import log_group_name
from web.rows import log_event_json


def log_groups(sb) -> list[dict]:
    """``[{"group", "function_name"}]``: the default function's group first, then the others by name."""
    default = sb.function.function_name
    names = {fn.function_name for fn in sb.functions()} | {default}
    groups = {log_group_name(name): name for name in names}
    for stream in sb.logs.streams():
        groups.setdefault(stream["group"], None)
    first = log_group_name(default)
    ordered = [first] + sorted(g for g in groups if g != first)
    return [{"group": g, "function_name": groups[g]} for g in ordered]


def group_page(
    sb,
    group: str,
    *,
    before: int | None = None,
    after: int | None = None,
    stream: str | None = None,
    contains: str | None = None,
    request_id: str | None = None,
    limit: int = 200,
) -> dict:
    """One group's lines, oldest first, as ``ChangeFeed.log_page`` pages the default group's: the newest
    ``limit`` after ``after`` (a live tail), or else the newest ``limit`` before ``before``."""
    events = sb.log_events(group=group, stream=stream, contains=contains, request_id=request_id)
    last_seq = events[-1].seq if events else 0
    if after is not None:
        found = [e for e in events if e.seq > after][-limit:]
        return {
            "events": [log_event_json(e) for e in found],
            "next_before": None,
            "last_seq": max(last_seq, after),
        }
    if before is not None:
        events = [e for e in events if e.seq < before]
    found = events[-limit:]
    more = len(events) > len(found)
    return {
        "events": [log_event_json(e) for e in found],
        "next_before": found[0].seq if more and found else None,
        "last_seq": last_seq,
    }
