"""Lambda's CloudWatch metrics, written to the local endpoint's CloudWatch (namespace ``AWS/Lambda``,
dimension ``FunctionName``), readable with ``aws cloudwatch get-metric-statistics``.

AWS emits these itself; the sandbox emits the same names, units and dimension from what it observed (see
``UNITS``). A background thread batches the writes so an invocation never waits for them. Each datapoint
written is also kept here, per function (``datapoints``): the page's Monitor tab aggregates the same
values the CLI reads, without a round trip through the endpoint (metric_statistics.py).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from sandbox.telemetry.batch_writer import BatchedWrites, BatchWriter

UNITS = {
    "Invocations": "Count",
    "Errors": "Count",
    "Duration": "Milliseconds",
    "Throttles": "Count",
    "ConcurrentExecutions": "Count",
    "DeadLetterErrors": "Count",
    "DestinationDeliveryFailures": "Count",
    "RecursiveInvocationsDropped": "Count",
    "AsyncEventsReceived": "Count",
    "AsyncEventAge": "Milliseconds",
    "AsyncEventsDropped": "Count",
    "IteratorAge": "Milliseconds",
}

KEPT_PER_FUNCTION = 100_000  # datapoints kept for the page per function; CloudWatch keeps them all


class LambdaMetrics(BatchedWrites):
    def __init__(self, client=None, clock=time.time):
        self._client = client
        self._clock = clock
        self._kept: dict[str, deque] = {}
        self._kept_lock = threading.Lock()
        self._writer = (
            BatchWriter(self._write, "cloudwatch-metrics", linger_s=1.0) if client is not None else None
        )

    def put(self, function_name: str, name: str, value: float = 1.0) -> None:
        now = self._clock()
        with self._kept_lock:
            kept = self._kept.get(function_name)
            if kept is None:
                kept = self._kept[function_name] = deque(maxlen=KEPT_PER_FUNCTION)
            kept.append((now, name, float(value)))
        if self._writer is not None:
            self._writer.put(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
                    "Value": float(value),
                    "Unit": UNITS.get(name, "None"),
                    "Timestamp": now,
                }
            )

    def restore(self, datapoints: list[tuple[str, float, str, float]]) -> None:
        """Keep ``(function name, timestamp, metric name, value)`` datapoints CloudWatch already has (a
        state directory's), before those of this session; they are not written again."""
        with self._kept_lock:
            for function_name, timestamp, name, value in sorted(datapoints, key=lambda d: d[1]):
                kept = self._kept.get(function_name)
                if kept is None:
                    kept = self._kept[function_name] = deque(maxlen=KEPT_PER_FUNCTION)
                kept.append((timestamp, name, float(value)))

    def datapoints(self, function_name: str, since: float = 0.0) -> list[tuple[float, str, float]]:
        """``(timestamp, metric name, value)`` of each datapoint put for the function at or after
        ``since``, oldest first."""
        with self._kept_lock:
            kept = list(self._kept.get(function_name, ()))
        start = len(kept)
        while start > 0 and kept[start - 1][0] >= since:  # newest last: walk back only over the range
            start -= 1
        return kept[start:]

    def _write(self, batch: list) -> None:
        self._client.put_metric_data(Namespace="AWS/Lambda", MetricData=batch)
