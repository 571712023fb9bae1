"""What each invocation costs and counts: the session's bill (``CostSummary``) and the ``AWS/Lambda``
metrics (Invocations, Duration, Errors, Throttles, ConcurrentExecutions), as CloudWatch would show them.

Each attempt is billed and counted once, when it has run; a throttled attempt never ran, so it is only
counted as a throttle (as on AWS).
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.config import DEFAULT_MEMORY_MB
from sandbox.lambda_.environment_pool import EnvironmentPool
from sandbox.lambda_.invocation import InvocationRecord, InvocationStatus
from sandbox.telemetry.metrics import LambdaMetrics
from sandbox.telemetry.pricing import CostSummary


class UsageAccounting:
    def __init__(
        self, cost: CostSummary, metrics: LambdaMetrics, runtime_of: Callable[[str], EnvironmentPool | None]
    ):
        self.cost = cost
        self.metrics = metrics
        self._runtime_of = runtime_of
        self._accounted: set[str] = set()  # record ids (request id # attempt) already billed

    def bill(self, record: InvocationRecord) -> bool:
        """A finished attempt restored from a state directory: in the session's cost again, once; its
        metrics are not put again (CloudWatch's are restored with the rest). False when not billable or
        already billed."""
        if record.billed_duration_ms is None or not record.finished or record.id in self._accounted:
            return False
        self._accounted.add(record.id)
        runtime = self._runtime_of(record.function_name)
        self.cost.add(
            record.billed_duration_ms,
            record.memory_size_mb or DEFAULT_MEMORY_MB,
            runtime.function.architecture if runtime else "x86_64",
        )
        return True

    def on_record_change(self, record: InvocationRecord) -> None:
        if record.status == InvocationStatus.THROTTLED:
            self.metrics.put(record.function_name, "Throttles")
            return
        if not self.bill(record):
            return
        runtime = self._runtime_of(record.function_name)
        name = record.function_name
        self.metrics.put(name, "Invocations")
        self.metrics.put(name, "Duration", record.duration_ms or 0.0)
        if record.status != InvocationStatus.SUCCESS:
            self.metrics.put(name, "Errors")
        if runtime is not None:
            self.metrics.put(name, "ConcurrentExecutions", max(1, runtime.concurrent_executions))
