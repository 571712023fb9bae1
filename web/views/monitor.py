"""The Monitor tab: a function's ``AWS/Lambda`` metrics as the Lambda console graphs them, per period over
the last 5 minutes (10 s periods), the last hour (1 min periods) or the session.

The figures are CloudWatch's statistics (Sum, Average, p50, Maximum) of the datapoints the sandbox wrote
to the endpoint's CloudWatch, the ones ``aws cloudwatch get-metric-statistics`` reads; the sandbox keeps
a copy of each (``sb.metrics.datapoints``), so the page reads them without a round trip. Read-only.
"""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request

from sandbox.interface import METRIC_UNITS, aggregate, success_rate
from web import context
from web.errors import ApiError
from web.views.cost import chosen_function

bp = Blueprint("monitor", __name__, url_prefix="/api/monitor")

RANGES = {"5m": (300, 10), "1h": (3600, 60)}  # seconds back, period
SESSION_PERIODS = (10, 60, 300, 900, 3600)
MAX_PERIODS = 120

# (id, title, unit, kind, [(metric, statistic, label)], what it shows)
GRAPHS = [
    ("invocations", "Invocations", "Count", "bar", [("Invocations", "Sum", "Invocations")],
     "Times the function's code ran, failed attempts included (Sum). Throttled requests are not counted."),
    ("duration", "Duration", "Milliseconds", "line",
     [("Duration", "Average", "Average"), ("Duration", "p50", "p50"), ("Duration", "Maximum", "Maximum")],
     "Time the handler ran per invocation, as REPORT's Duration (Init Duration not included)."),
    ("errors", "Errors", "Count", "bar", [("Errors", "Sum", "Errors")],
     "Invocations that ended in a function error, a timeout or running out of memory (Sum)."),
    ("success-rate", "Success rate", "Percent", "line", [("SuccessRate", "", "Success rate")],
     "100 - 100 × Errors / MAX(Errors, Invocations), per period, as the console computes it."),
    ("throttles", "Throttles", "Count", "bar", [("Throttles", "Sum", "Throttles")],
     "Requests refused because every environment the function may have was busy (Sum)."),
    ("concurrency", "Concurrent executions", "Count", "line",
     [("ConcurrentExecutions", "Maximum", "Maximum")],
     "Environments busy with an invocation at once (Maximum)."),
    ("async-age", "Async event age", "Milliseconds", "line",
     [("AsyncEventAge", "Average", "Average"), ("AsyncEventAge", "Maximum", "Maximum")],
     "Time from queueing an asynchronous event to invoking the function with it, each attempt."),
    ("async-events", "Async events received and dropped", "Count", "bar",
     [("AsyncEventsReceived", "Sum", "Received"), ("AsyncEventsDropped", "Sum", "Dropped"),
      ("RecursiveInvocationsDropped", "Sum", "Recursive loop dropped")],
     "Asynchronous events queued, and those given up after every attempt or for their age (Sum)."),
    ("iterator-age", "Iterator age", "Milliseconds", "line", [("IteratorAge", "Maximum", "Maximum")],
     "Age of a stream batch's last record when the mapping sends the batch to the function (Maximum)."),
    ("delivery-failures", "Dead-letter and destination failures", "Count", "bar",
     [("DeadLetterErrors", "Sum", "DeadLetterErrors"),
      ("DestinationDeliveryFailures", "Sum", "DestinationDeliveryFailures")],
     "Failed events the sandbox could not send to the dead-letter queue or a destination (Sum)."),
]  # fmt: skip


def chosen_range(sb, now: float) -> tuple[str, float, int]:
    """(range name, start, period) for the ``range`` argument: 5m, 1h or session."""
    name = request.args.get("range") or "5m"
    if name in RANGES:
        back, period = RANGES[name]
        return name, now - back, period
    if name != "session":
        raise ApiError(400, f"'range' must be 5m, 1h or session; got {name!r}.")
    start = sb.started_at or now - RANGES["5m"][0]
    span = max(1.0, now - start)
    period = next((p for p in SESSION_PERIODS if span / p <= MAX_PERIODS), SESSION_PERIODS[-1])
    return name, start, period


def has_stream_mapping(sb, function_name: str) -> bool:
    """Whether a stream mapping invokes the function, from the mappings the sandbox knows: an open Monitor
    tab reads every few seconds while invocations change, and every trigger (``sb.triggers()``) would be a
    round of AWS calls each time."""
    return bool(sb.stream_mappings(function_name))


def graphs_of(stats: dict, count: int, function_name: str, streams: bool) -> list[dict]:
    invocations = [s.sum if s else 0.0 for s in stats.get("Invocations", [None] * count)]
    errors = [s.sum if s else 0.0 for s in stats.get("Errors", [None] * count)]
    graphs = []
    for graph_id, title, unit, kind, series, description in GRAPHS:
        drawn, empty = [], True
        for metric, statistic, label in series:
            if metric == "SuccessRate":
                values = [success_rate(i, e) for i, e in zip(invocations, errors)]
            else:
                periods = stats.get(metric, [None] * count)
                if statistic == "Sum":  # a count: 0 in a period without datapoints
                    values = [s.sum if s else 0 for s in periods]
                else:  # a measure: a gap where nothing was measured
                    values = [s.stat(statistic) if s else None for s in periods]
                empty = empty and all(s is None for s in periods)
            drawn.append({"metric": metric, "stat": statistic, "label": label, "values": values})
        if graph_id == "success-rate":
            empty = all(v is None for v in drawn[0]["values"])
        note = None
        if graph_id == "iterator-age" and not streams:
            note = f"Only for stream sources (a DynamoDB stream mapping); none invokes {function_name}."
        graphs.append(
            {
                "id": graph_id,
                "title": title,
                "unit": unit,
                "kind": kind,
                "description": description,
                "series": drawn,
                "empty": empty,
                "note": note,
                "y_max": 100 if unit == "Percent" else None,
            }
        )
    return graphs


def totals_of(datapoints: list) -> dict:
    """Each metric's Sum (counts) and Average/Maximum (measures) over the whole range."""
    sums: dict[str, float] = {}
    peaks: dict[str, float] = {}
    counts: dict[str, int] = {}
    for _, name, value in datapoints:
        sums[name] = sums.get(name, 0.0) + value
        counts[name] = counts.get(name, 0) + 1
        peaks[name] = max(peaks.get(name, value), value)
    return {
        name: {
            "sum": sums[name],
            "sample_count": counts[name],
            "average": sums[name] / counts[name],
            "maximum": peaks[name],
            "unit": METRIC_UNITS.get(name, "None"),
        }
        for name in sums
    }


@bp.get("")
def monitor():
    sb = context.sandbox()
    fn = chosen_function(sb)
    now = time.time()
    name, start, period = chosen_range(sb, now)
    start = start // period * period  # whole periods, as CloudWatch aligns them
    metrics = getattr(sb, "metrics", None)
    points = metrics.datapoints(fn.function_name, since=start) if metrics is not None else []
    points = [p for p in points if start <= p[0] <= now]
    starts, stats = aggregate(points, start, now, period)
    return jsonify(
        function_name=fn.function_name,
        range=name,
        start=start,
        end=now,
        period=period,
        periods=starts,
        totals=totals_of(points),
        graphs=graphs_of(stats, len(starts), fn.function_name, has_stream_mapping(sb, fn.function_name)),
    )
