"""CloudWatch's statistics per period (metric_statistics.py) and the datapoints LambdaMetrics keeps."""

import pytest

from sandbox.telemetry.metric_statistics import aggregate, percentile, period_starts, success_rate
from sandbox.telemetry.metrics import UNITS, LambdaMetrics


def test_periods_are_aligned_to_whole_multiples_of_the_period_and_cover_the_range():
    assert period_starts(125.0, 185.0, 60) == [120, 180]
    assert period_starts(120.0, 180.0, 60) == [120]
    assert period_starts(1000.5, 1031.0, 10) == [1000, 1010, 1020, 1030]
    with pytest.raises(ValueError):
        period_starts(0, 10, 0)


def test_each_datapoint_counts_in_the_period_its_timestamp_falls_in():
    points = [(100.0, "Invocations", 1), (109.999, "Invocations", 1), (110.0, "Invocations", 1)]
    starts, stats = aggregate(points, 100, 120, 10)
    assert starts == [100, 110]
    assert [s.sum for s in stats["Invocations"]] == [2, 1]


def test_a_period_without_datapoints_has_no_statistics_and_points_outside_are_left_out():
    points = [(95.0, "Duration", 7.0), (105.0, "Duration", 3.0), (140.0, "Duration", 9.0)]
    starts, stats = aggregate(points, 100, 130, 10)
    assert starts == [100, 110, 120]
    assert stats["Duration"][1] is None and stats["Duration"][2] is None
    assert stats["Duration"][0].sample_count == 1


def test_average_p50_and_maximum_of_a_period():
    durations = [(200.0 + i * 0.1, "Duration", v) for i, v in enumerate([40.0, 10.0, 30.0, 20.0, 1000.0])]
    _, stats = aggregate(durations, 200, 210, 10)
    [period] = stats["Duration"]
    assert period.sample_count == 5 and period.sum == 1100.0
    assert period.average == 220.0  # one slow invocation pulls the average up ...
    assert period.p50 == 30.0  # ... not the median
    assert period.maximum == 1000.0 and period.minimum == 10.0
    assert period.stat("p50") == 30.0 and period.stat("Maximum") == 1000.0


def test_p50_is_the_nearest_rank_value():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([5.0], 50) == 5.0
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0


def test_success_rate_is_the_consoles_formula():
    assert success_rate(10, 0) == 100
    assert success_rate(10, 3) == 70
    assert success_rate(2, 5) == 0  # errors counted without their invocation yet: never below 0 %
    assert success_rate(0, 0) is None


def test_lambda_metrics_keeps_each_datapoint_per_function_with_awss_units():
    now = [1000.0]
    metrics = LambdaMetrics(clock=lambda: now[0])  # no endpoint: kept, not written
    metrics.put("A", "Invocations")
    now[0] = 1005.0
    metrics.put("A", "Duration", 12.5)
    metrics.put("B", "Invocations")
    assert metrics.datapoints("A") == [(1000.0, "Invocations", 1.0), (1005.0, "Duration", 12.5)]
    assert metrics.datapoints("A", since=1001) == [(1005.0, "Duration", 12.5)]
    assert metrics.datapoints("C") == []
    assert UNITS["AsyncEventAge"] == "Milliseconds" and UNITS["IteratorAge"] == "Milliseconds"
    assert UNITS["AsyncEventsDropped"] == "Count" and UNITS["DestinationDeliveryFailures"] == "Count"
