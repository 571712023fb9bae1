"""Every function's CloudWatch log group, as the console's log-group list: the groups of the functions
the sandbox runs and any other group lines were written to. The change feed (web/feed/) keeps a copy of
every group's lines and pushes new ones, each naming its group.
"""

from __future__ import annotations

from sandbox.interface import log_group_name


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
