"""What the page (``web/``) may use of a sandbox: this interface, and nothing else of ``sandbox/``'s
internals (an import-linter contract in pyproject.toml checks it). :class:`sandbox.core.Sandbox`
implements it; a test can hand the page any object that does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sandbox.config import FunctionConfiguration, SandboxConfig
from sandbox.endpoint.access import AccessPolicy
from sandbox.lambda_.invocation import InvocationLog, InvocationRecord
from sandbox.telemetry.cloudwatch_logs import log_group_name
from sandbox.telemetry.pricing import (
    DEFAULT_COLD_START_SHARE,
    FREE_GB_SECONDS,
    FREE_REQUESTS,
    PRICE_PER_GB_SECOND,
    PRICE_PER_REQUEST,
    CostSummary,
    monthly_projection,
)

# What the page names and prices as AWS does: a function's log group, and Lambda's price list.
__all__ = [
    "DEFAULT_COLD_START_SHARE",
    "FREE_GB_SECONDS",
    "FREE_REQUESTS",
    "PRICE_PER_GB_SECOND",
    "PRICE_PER_REQUEST",
    "log_group_name",
    "monthly_projection",
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


class SandboxView(Protocol):
    config: SandboxConfig
    # Every invocation attempt; the page's change feed uses ``subscribe`` (hear each change) and ``all``.
    records: InvocationLog
    cost: CostSummary
    logs: LogsView
    access: AccessPolicy

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
