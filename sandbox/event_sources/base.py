"""What every event source is: the :class:`EventSource` interface the Sandbox calls (each method a no-op
by default, so a source overrides only what it does), and the :class:`SourceContext` it is built with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WSGIApp = Callable
Wrap = Callable[[WSGIApp], WSGIApp]


@dataclass(frozen=True)
class SourceContext:
    region: str
    # The sandbox's boto3 client of the local endpoint for a service, one per service, shared by every source
    # (usable once the endpoint has started; never register hooks on it).
    client: Callable[[str], Any]
    object_facts: Callable  # the endpoint's facts about a stored object (size, ETag, version)
    report: Callable[[str], None]  # a line for the person at the terminal
    time_scale: float = 1.0  # the schedules' clock runs this many times faster than real time (--time-scale)
    # The state directory's small store for a source's own state (positions, accepted events):
    # ``save(name, value, durable=True)``, ``load(name)``, ``forget(name)``, ``saved(prefix)``, JSON values,
    # on disk when the call returns (``durable=False``: when the request being answered is, or for
    # bookkeeping, with the next flush); None when the sandbox keeps its state in memory only.
    state: Any = None
    # A bucket's notification configuration (GetBucketNotificationConfiguration's shape), read from the
    # endpoint's state rather than through the S3 API the user watches.
    bucket_notifications: Callable[[str], dict] | None = None
    access: Any = None  # the endpoint's AccessPolicy (its network token), for URLs that check signatures
    # The trace recorder (sandbox/telemetry/traces.py): a source records its own hops (S3's notification, a
    # queue's wait, a poller's batch, a checkpoint) under the invocation's trace id. None: not recorded.
    traces: Any = None

    # ``observe(callback)``: callback(publication dict) for every message an SNS topic accepts.
    sns_publications: Callable[[Callable[[dict], None]], None] | None = None
    # ``observe(callback)``: callback(facts dict) for every object event S3 sends EventBridge.
    s3_eventbridge: Callable[[Callable[[dict], None]], None] | None = None


def trace_hop(
    context: SourceContext,
    trace: str | None,
    service: str,
    operation: str,
    resource: str,
    start: float,
    end: float | None = None,
    **fields,
) -> None:
    """Record one of a source's hops on the trace ``trace`` (see sandbox/telemetry/traces.py), if the
    sandbox records traces. Never fails the source's work."""
    if getattr(context, "traces", None) is None:
        return
    try:
        context.traces.add(trace, service, operation, resource, start, end, **fields)
    except Exception:
        pass


class EventSource:
    """A trigger: turns what happened into invocations through the Lambda service. Built before the
    endpoint starts (hooks and routes are read then), started after the Lambda service, stopped before it."""

    name = ""  # what the CLI and the page call this source

    def service_middleware(self) -> dict[str, Wrap]:
        """``{moto service name: wrap(app) -> app}``: hooks on the endpoint's services (S3's writes...)."""
        return {}

    def routes(self) -> dict[str, WSGIApp]:
        """``{path prefix: app}``: URLs AWS serves to anyone (execute-api), mounted as public routes."""
        return {}

    def host_routes(self) -> list[tuple[str, WSGIApp]]:
        """``[(host suffix, app)]``: the same, by host name (``<id>.execute-api.localhost``)."""
        return []

    def start(self, service) -> None:
        """Begin turning events into invocations; ``service`` is the Lambda service."""

    def stop(self) -> None:
        """Stop, finishing nothing new; what was accepted stays accepted."""

    def describe(self, event: dict) -> tuple[str, str, dict] | None:
        """``(source, summary, subject)`` of one of this source's events invoked directly (``aws lambda
        invoke``, a redrive), or None when the event is not of this source."""
        return None

    def triggers(self) -> list[dict]:
        """The triggers this source serves, for the page and ``run_local.py triggers``."""
        return []
