"""What an event source is given when the Sandbox builds it (see sandbox/event_sources/__init__.py). It
lives outside the event_sources package so that sources import nothing of each other's package."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class SourceContext:
    region: str
    client: Callable[[str], Any]  # a boto3 client for the local endpoint (usable once it has started)
    object_facts: Callable  # the endpoint's facts about a stored object (size, ETag, version)
    report: Callable[[str], None]  # a line for the person at the terminal
    time_scale: float = 1.0  # the schedules' clock runs this many times faster than real time (--time-scale)
    # The state directory's small store for a source's own state (positions, accepted events):
    # ``save(name, value, durable=True)``, ``load(name)``, ``forget(name)``, ``saved(prefix)``, JSON values,
    # on disk when the call returns (``durable=False``: when the request being answered is, or for
    # bookkeeping, with the next flush); None when the sandbox keeps its state in memory only.
    state: Any = None
    access: Any = None  # the endpoint's AccessPolicy (its network token), for URLs that check signatures
