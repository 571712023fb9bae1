"""The Monitor tab's graphs from per-period statistics (web/views/monitor.py), without a sandbox."""

from sandbox.telemetry.metric_statistics import aggregate
from web.views.monitor import GRAPHS, graphs_of, totals_of


def graphs(points, streams=False):
    starts, stats = aggregate(points, 0, 30, 10)
    return {g["id"]: g for g in graphs_of(stats, len(starts), "F", streams)}


def values(graph, stat=None):
    series = graph["series"] if stat is None else [s for s in graph["series"] if s["stat"] == stat]
    return series[0]["values"]


POINTS = [
    (1.0, "Invocations", 1),
    (1.0, "Duration", 10.0),
    (2.0, "Invocations", 1),
    (2.0, "Duration", 30.0),
    (2.0, "Errors", 1),
    (3.0, "Invocations", 1),
    (3.0, "Duration", 200.0),
    (25.0, "Invocations", 1),
    (25.0, "Duration", 5.0),
]


def test_counts_are_sums_with_zero_where_nothing_happened():
    drawn = graphs(POINTS)
    assert values(drawn["invocations"]) == [3, 0, 1]
    assert values(drawn["errors"]) == [1, 0, 0] and not drawn["errors"]["empty"]
    assert values(drawn["throttles"]) == [0, 0, 0] and drawn["throttles"]["empty"]


def test_duration_has_average_p50_and_maximum_with_gaps_where_nothing_ran():
    drawn = graphs(POINTS)["duration"]
    assert values(drawn, "Average") == [80.0, None, 5.0]
    assert values(drawn, "p50") == [30.0, None, 5.0]
    assert values(drawn, "Maximum") == [200.0, None, 5.0]


def test_success_rate_per_period_and_none_where_nothing_ran():
    rates = values(graphs(POINTS)["success-rate"])
    assert rates[0] == 100 - 100 / 3 and rates[1] is None and rates[2] == 100
    assert graphs([])["success-rate"]["empty"]


def test_iterator_age_says_why_it_is_empty_without_a_stream_mapping():
    assert graphs(POINTS)["iterator-age"]["note"].startswith("Only for stream sources")
    assert graphs(POINTS, streams=True)["iterator-age"]["note"] is None


def test_every_graph_is_drawn_in_the_consoles_order_and_totals_sum_the_range():
    assert [g[0] for g in GRAPHS][:4] == ["invocations", "duration", "errors", "success-rate"]
    totals = totals_of(POINTS)
    assert totals["Invocations"]["sum"] == 4 and totals["Duration"]["maximum"] == 200.0
    assert totals["Duration"]["unit"] == "Milliseconds" and totals["Errors"]["unit"] == "Count"
