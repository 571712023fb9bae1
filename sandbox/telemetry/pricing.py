"""What an invocation costs on AWS (us-east-1), computed from the figures the sandbox measured.

Requests: $0.20 per million. Compute: per GB-second of Billed Duration x configured memory, billed per
1 ms: $0.0000166667 on x86_64, $0.0000133334 on arm64. Since 2025-08-01 the INIT phase of a zip function
on a managed runtime is billed too, so a cold start bills ceil(Duration + Init Duration).
Free tier each month: 1 million requests and 400,000 GB-seconds.

A month's projection (``monthly_projection``) prices warm invocations plus a share of cold starts, each
billing its INIT phase too; not the session's average, which a few cold starts that started together on
a laptop's few cores (each INIT slowed by the others) can make several times what AWS would bill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PRICE_PER_REQUEST = 0.20 / 1_000_000
PRICE_PER_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
FREE_REQUESTS = 1_000_000
FREE_GB_SECONDS = 400_000
# The Lambda Operator Guide (Lambda execution environments): "According to an analysis of production Lambda
# workloads, cold starts typically occur in under 1% of invocations." A trickle has more; a steady stream
# fewer.
DEFAULT_COLD_START_SHARE = 0.01


def billed_duration_ms(duration_ms: float, init_duration_ms: float | None = None) -> int:
    """Billed Duration: rounded up to the next 1 ms, with the INIT phase included on a cold start."""
    total = duration_ms + (init_duration_ms or 0.0)
    return max(1, math.ceil(round(total, 6)))


def gb_seconds(billed_ms: int, memory_mb: int) -> float:
    return billed_ms / 1000.0 * memory_mb / 1024.0


def invocation_cost(billed_ms: int, memory_mb: int, architecture: str = "x86_64") -> float:
    """USD for one request, before the free tier."""
    return PRICE_PER_REQUEST + gb_seconds(billed_ms, memory_mb) * PRICE_PER_GB_SECOND[architecture]


@dataclass
class CostSummary:
    requests: int = 0
    gb_seconds: float = 0.0
    compute_usd: float = 0.0
    request_usd: float = 0.0

    @property
    def total_usd(self) -> float:
        return self.compute_usd + self.request_usd

    def add(self, billed_ms: int, memory_mb: int, architecture: str = "x86_64") -> None:
        seconds = gb_seconds(billed_ms, memory_mb)
        self.requests += 1
        self.gb_seconds += seconds
        self.compute_usd += seconds * PRICE_PER_GB_SECOND[architecture]
        self.request_usd += PRICE_PER_REQUEST

    def with_free_tier(self, architecture: str = "x86_64") -> float:
        """USD after a month's free tier (the whole session counted as one month)."""
        paid_requests = max(0, self.requests - FREE_REQUESTS)
        paid_seconds = max(0.0, self.gb_seconds - FREE_GB_SECONDS)
        return paid_requests * PRICE_PER_REQUEST + paid_seconds * PRICE_PER_GB_SECOND[architecture]

    def projection(self, images_per_month: int, architecture: str = "x86_64") -> dict:
        """Monthly cost for a number of invocations at this session's average billed GB-seconds (cold starts
        and all: see ``monthly_projection`` for what the page projects)."""
        if not self.requests:
            return {"images": images_per_month, "gb_seconds": 0.0, "usd": 0.0, "usd_free_tier": 0.0}
        average = self.gb_seconds / self.requests
        projected = CostSummary(requests=images_per_month, gb_seconds=average * images_per_month)
        projected.compute_usd = projected.gb_seconds * PRICE_PER_GB_SECOND[architecture]
        projected.request_usd = images_per_month * PRICE_PER_REQUEST
        return {
            "images": images_per_month,
            "gb_seconds": projected.gb_seconds,
            "usd": projected.total_usd,
            "usd_free_tier": projected.with_free_tier(architecture),
        }

    def as_dict(self, architecture: str = "x86_64") -> dict:
        return {
            "requests": self.requests,
            "gb_seconds": self.gb_seconds,
            "usd": self.total_usd,
            "usd_free_tier": self.with_free_tier(architecture),
        }


def monthly_projection(
    invocations: int,
    warm_billed_ms: float,
    memory_mb: float,
    cold_start_share: float = DEFAULT_COLD_START_SHARE,
    init_ms: float = 0.0,
    architecture: str = "x86_64",
) -> dict:
    """A month of ``invocations`` on AWS: each bills ``warm_billed_ms`` at ``memory_mb``; the
    ``cold_start_share`` of them that are cold starts bill their INIT phase (``init_ms``) on top."""
    cold_starts = invocations * cold_start_share
    billed_ms = invocations * warm_billed_ms + cold_starts * init_ms
    seconds = billed_ms / 1000.0 * memory_mb / 1024.0
    month = CostSummary(
        requests=invocations,
        gb_seconds=seconds,
        compute_usd=seconds * PRICE_PER_GB_SECOND[architecture],
        request_usd=invocations * PRICE_PER_REQUEST,
    )
    return {
        "images": invocations,
        "cold_start_share": cold_start_share,
        "cold_starts": cold_starts,
        "warm_billed_ms": warm_billed_ms,
        "init_ms": init_ms,
        "memory_mb": memory_mb,
        "billed_ms_per_invocation": billed_ms / invocations if invocations else warm_billed_ms,
        "gb_seconds": seconds,
        "usd": month.total_usd,
        "usd_free_tier": month.with_free_tier(architecture),
    }
