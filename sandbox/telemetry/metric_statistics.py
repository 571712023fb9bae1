"""CloudWatch's statistics over periods, as ``get-metric-statistics`` computes them: the datapoints of a
metric whose timestamps fall in ``[period start, period start + period)`` give SampleCount, Sum, Minimum,
Maximum, Average and p50. Periods are aligned to whole multiples of the period (a 60 s period starts on
the minute), as CloudWatch aligns them; a period without datapoints has no statistics (None), as
CloudWatch returns no datapoint for it.

p50 is the nearest-rank percentile of the period's values (the smallest value with at least half the
values at or below it), CloudWatch's percentile of raw datapoints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodStatistics:
    sample_count: int
    sum: float
    minimum: float
    maximum: float
    average: float
    p50: float

    def stat(self, name: str) -> float:
        """The statistic by its CloudWatch name: SampleCount, Sum, Minimum, Maximum, Average, p50."""
        return {
            "SampleCount": self.sample_count,
            "Sum": self.sum,
            "Minimum": self.minimum,
            "Maximum": self.maximum,
            "Average": self.average,
            "p50": self.p50,
        }[name]


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (at least one)."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def of_values(values: list[float]) -> PeriodStatistics | None:
    if not values:
        return None
    ordered = sorted(values)
    total = math.fsum(ordered)
    return PeriodStatistics(
        sample_count=len(ordered),
        sum=total,
        minimum=ordered[0],
        maximum=ordered[-1],
        average=total / len(ordered),
        p50=percentile(ordered, 50),
    )


def period_starts(start: float, end: float, period: int) -> list[float]:
    """The aligned periods covering ``[start, end)``: the first begins at or before ``start``."""
    if period <= 0:
        raise ValueError("period must be positive")
    first = math.floor(start / period) * period
    count = max(1, math.ceil((end - first) / period))
    return [first + i * period for i in range(count)]


def aggregate(
    datapoints: Iterable[tuple[float, str, float]], start: float, end: float, period: int
) -> tuple[list[float], dict[str, list[PeriodStatistics | None]]]:
    """``(period starts, {metric name: statistics of each period})`` for ``(timestamp, name, value)``
    datapoints; datapoints outside the periods are left out."""
    starts = period_starts(start, end, period)
    first, last_end = starts[0], starts[-1] + period
    values: dict[str, list[list[float]]] = {}
    for timestamp, name, value in datapoints:
        if not first <= timestamp < last_end:
            continue
        slots = values.get(name)
        if slots is None:
            slots = values[name] = [[] for _ in starts]
        slots[int((timestamp - first) // period)].append(value)
    return starts, {name: [of_values(v) for v in slots] for name, slots in values.items()}


def success_rate(invocations: float, errors: float) -> float | None:
    """The Lambda console's success rate (%): ``100 - 100 * Errors / MAX(Errors, Invocations)``; None
    without invocations or errors."""
    denominator = max(errors, invocations)
    if denominator <= 0:
        return None
    return 100 - 100 * errors / denominator
