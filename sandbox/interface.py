"""What the page (``web/``) may use of a sandbox: this interface, and nothing else of ``sandbox/``'s
internals (an import-linter contract in pyproject.toml checks it). :class:`sandbox.core.Sandbox`
implements it; a test can hand the page any object that does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sandbox.config import FunctionConfiguration, SandboxConfig
from sandbox.endpoint.access import AccessPolicy
from sandbox.event_sources import SAMPLE_EVENTS, sample_event
from sandbox.lambda_.invocation import InvocationLog, InvocationRecord
from sandbox.telemetry.cloudwatch_logs import log_group_name
from sandbox.telemetry.metric_statistics import aggregate, success_rate
from sandbox.telemetry.metrics import UNITS as METRIC_UNITS
from sandbox.telemetry.pricing import (
    DEFAULT_COLD_START_SHARE,
    FREE_GB_SECONDS,
    FREE_REQUESTS,
    PRICE_PER_GB_SECOND,
    PRICE_PER_REQUEST,
    CostSummary,
    monthly_projection,
)

# What the page names, prices and counts as AWS does: a function's log group, Lambda's price list, its
# CloudWatch metrics' units and statistics; and the triggers' sample events (``run_local.py
# generate-event``), the Test tab's templates.
__all__ = [
    "METRIC_UNITS",
    "aggregate",
    "success_rate",
    "DEFAULT_COLD_START_SHARE",
    "FREE_GB_SECONDS",
    "FREE_REQUESTS",
    "PRICE_PER_GB_SECOND",
    "PRICE_PER_REQUEST",
    "SAMPLE_EVENTS",
    "log_group_name",
    "monthly_projection",
    "sample_event",
]


class FunctionView(Protocol):
    """One function's execution environments, as the page shows them."""

    function: FunctionConfiguration
    concurrent_executions: int

    def describe(self) -> list[dict]: ...


class LogsView(Protocol):
    def streams(self, group: str) -> list: ...

    def subscribe(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(event)`` with every log line as it is written (in the writer's thread: the
        callback must only take note). The page's change feed pushes new lines to open pages with it."""


class KeptValues(Protocol):
    """The state directory's small JSON values (sandbox/state/persistence.py), kept across restarts."""

    def save(self, name: str, value, durable: bool = True) -> None: ...

    def load(self, name: str): ...

    def forget(self, *names: str) -> None: ...

    def saved(self, prefix: str) -> list[tuple[str, object]]:
        """``(name, value)`` of what was saved under ``prefix``, in the order saved."""


class MetricsView(Protocol):
    def datapoints(self, function_name: str, since: float = 0.0) -> list[tuple[float, str, float]]:
        """``(timestamp, metric name, value)`` of the function's ``AWS/Lambda`` datapoints put at or after
        ``since`` (the same ones written to the endpoint's CloudWatch), oldest first."""
        ...


class TracesView(Protocol):
    """One event's path across services, and the session's service map (sandbox/telemetry/traces.py)."""

    keep: int  # the newest traces kept
    forgotten: int  # older traces dropped to keep memory bounded

    def root_of(self, request_id: str) -> str | None:
        """The trace id of an invocation (its ``_X_AMZN_TRACE_ID``'s Root)."""

    def trace(self, root: str) -> list[dict] | None:
        """The trace's hops in the order they began (service, operation, resource, start, end,
        duration_ms, outcome, failed, detail, request_id, attempt, caller); None when it is not kept."""

    def service_map(self) -> dict:
        """``{"nodes": [{"id", "kind", "name"}], "edges": [{"from", "to", "count", "errors",
        "operations"}], "traces_kept", "keep", "forgotten"}``, the whole session's."""


class SandboxView(Protocol):
    config: SandboxConfig
    # The state directory (run_local.py --state-dir), None when the sandbox keeps nothing across restarts.
    persistence: KeptValues | None
    # Every invocation attempt; the page's change feed uses ``subscribe`` (hear each change) and ``all``.
    records: InvocationLog
    cost: CostSummary
    logs: LogsView
    access: AccessPolicy
    metrics: MetricsView
    started_at: float | None  # when this session started (epoch seconds); None when stopped
    traces: TracesView

    @property
    def endpoint_url(self) -> str: ...

    @property
    def function(self) -> FunctionConfiguration: ...

    def functions(self) -> list[FunctionConfiguration]:
        """Every function the sandbox runs: the guide's (``function``), the examples', templates'..."""
        ...

    def client(self, service: str) -> Any: ...

    def runtime(self, function_name: str) -> FunctionView | None: ...

    def invocations(self) -> list[InvocationRecord]: ...

    def log_events(self, **filters) -> list: ...

    def update_function_configuration(
        self, function_name: str | None = None, **changes
    ) -> FunctionConfiguration: ...

    def dead_letters(self, function_name: str | None = None, limit: int = 100) -> list[dict]: ...

    def redrive(
        self, function_name: str | None = None, message_ids: list[str] | None = None
    ) -> list[InvocationRecord]: ...

    def triggers(self) -> list[dict]:
        """Every function's triggers (and its aliases, kind "Alias"): kind, source, function, detail, state,
        and where they apply last_result (mappings), url (APIs), next_fire (schedules), faults (the
        sandbox's own failures to deliver a trigger's events, each retried or dead-lettered)."""
        ...

    def stream_mappings(self, function_name: str | None = None) -> list[dict]:
        """The DynamoDB stream mappings among ``triggers()``, of one function or all, from what the sandbox
        knows: no AWS call (the Monitor tab asks on every read)."""
        ...

    # Memory buys CPU (sandbox/lambda_/cpu_share.py): config.full_cpu says whether environments run at this
    # machine's full speed; set_full_cpu switches it at once; cpu_share describes what a memory size gets.
    def set_full_cpu(self, on: bool) -> None: ...

    def cpu_share(self, memory_mb: int | None = None) -> dict: ...

    # Scheduled rules (sandbox/event_sources/schedules/): schedules lists each rule (and Scheduler schedule)
    # with its targets and next fire time (next_fire_at on the sandbox's clock, next_fire_in_s in real
    # seconds; config.time_scale says how much faster that clock runs); fire_rule fires one now, as the
    # page's "Run now" does, and returns the invocation records it started (SandboxError: no such enabled
    # rule).
    def schedules(self) -> list[dict]: ...

    def fire_rule(
        self, name: str, kind: str = "rule", group: str | None = None
    ) -> list[InvocationRecord]: ...

    # Applications made from templates (run_local.py --template, aws cloudformation deploy; sandbox/sam/):
    # one dict per stack, {"name", "template", "origin", "description", "status", "created_at",
    # "functions": [{"logical_id", "name", "from", "handler", "runtime", "code", "memory_size", "timeout",
    #                "triggers": [{"type": S3|SQS|DynamoDB|Schedule|ScheduleV2|Api|HttpApi, "source",
    #                              "summary", and per type "events", "route", "urls", "schedule"...}]}],
    # "resources": [{"logical_id", "type", "physical_id", "from"}], "outputs": [{"key", "value",
    # "description", "export"?}] (AWS URLs made local), "notes": [...], "warnings": [...]}. Empty when the
    # sandbox runs the guide's stack and nothing was deployed from a template.
    def applications(self) -> list[dict]: ...
