"""The log lines of one invocation attempt, as CloudWatch Logs holds them: the lines carrying its request
id (START, the handler's own lines, END, REPORT) and, for a cold start, the INIT phase before them.

Shared by the Invocations tab's detail (one attempt) and the gallery's pair (every attempt of the
invocations that made it), so both show the same lines for the same attempt.
"""

from __future__ import annotations

from sandbox.interface import log_group_name
from web.rows import log_event_json

# A handler that logs in a loop can write thousands of lines in one invocation; the page shows the first
# and the last of them (START and END/REPORT are at the two ends) and says how many it left out.
MAX_LINES_PER_ATTEMPT = 400


def lines_of_attempt(lines: list[dict], record, attempts: list) -> list[dict]:
    """Retries keep the request id, so one request's lines hold every attempt: split them at each
    START line and keep this attempt's part (all of them when the two do not line up)."""
    segments: list[list[dict]] = []
    for line in lines:
        if line["platform"] == "START" or not segments:
            segments.append([])
        segments[-1].append(line)
    started = sorted(r.attempt for r in attempts if r.started_at is not None)
    if len(segments) <= 1 or len(segments) != len(started) or record.attempt not in started:
        return lines
    return segments[started.index(record.attempt)]


def attempt_log(sb, record, attempts: list, request_events: list | None = None) -> list[dict]:
    """One attempt's lines, oldest first, as the page's JSON (``rows.log_event_json``). ``attempts``: every
    record of the request (retries keep its id); ``request_events``: the request's log events when the
    caller has read them already (one read for all of a request's attempts)."""
    group = log_group_name(record.function_name)
    if request_events is None:
        request_events = sb.log_events(group=group, request_id=record.request_id)
    lines = lines_of_attempt([log_event_json(e) for e in request_events], record, attempts)
    if record.cold_start and record.log_stream:
        # A cold start's environment was made for this invocation: the lines its stream holds before
        # START, which carry no request id (INIT_START, module-level logging, an INIT error's
        # traceback, INIT_REPORT), are this invocation's INIT phase.
        first = lines[0]["seq"] if lines else None
        init = [
            log_event_json(e)
            for e in sb.log_events(group=group, stream=record.log_stream)
            if e.request_id is None and (first is None or e.seq < first)
        ]
        lines = init + lines
    return lines


def shortened(lines: list[dict], limit: int = MAX_LINES_PER_ATTEMPT) -> tuple[list[dict], int, int]:
    """At most ``limit`` lines: the first quarter and the last three quarters of them; how many of the lines
    between were left out (the log viewer has them all), and after how many of the kept ones."""
    if len(lines) <= limit:
        return lines, 0, len(lines)
    head = limit // 4
    return lines[:head] + lines[len(lines) - (limit - head) :], len(lines) - limit, head
