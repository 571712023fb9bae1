"""Lambda's CloudWatch metrics, written to the local endpoint's CloudWatch (namespace ``AWS/Lambda``,
dimension ``FunctionName``), readable with ``aws cloudwatch get-metric-statistics``.

AWS emits these itself; the sandbox emits the same names from what it observed: Invocations, Errors,
Duration, Throttles, ConcurrentExecutions, DeadLetterErrors, RecursiveInvocationsDropped. A background
thread batches the writes so an invocation never waits for them.
"""

from __future__ import annotations

import time

from sandbox.telemetry.batch_writer import BatchedWrites, BatchWriter

UNITS = {
    "Invocations": "Count",
    "Errors": "Count",
    "Duration": "Milliseconds",
    "Throttles": "Count",
    "ConcurrentExecutions": "Count",
    "DeadLetterErrors": "Count",
    "RecursiveInvocationsDropped": "Count",
}


class LambdaMetrics(BatchedWrites):
    def __init__(self, client=None):
        self._client = client
        self._writer = (
            BatchWriter(self._write, "cloudwatch-metrics", linger_s=1.0) if client is not None else None
        )

    def put(self, function_name: str, name: str, value: float = 1.0) -> None:
        if self._writer is not None:
            self._writer.put(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
                    "Value": float(value),
                    "Unit": UNITS.get(name, "None"),
                    "Timestamp": time.time(),
                }
            )

    def _write(self, batch: list) -> None:
        self._client.put_metric_data(Namespace="AWS/Lambda", MetricData=batch)
