"""What the session cost on AWS, with and without the free tier, and what a month would cost.

The session's totals are what was billed here, cold starts included, and stay as they are. The monthly
projection does not scale them up: on a laptop, a few environments that start together share its few cores,
so each INIT takes several times what it takes on AWS (where every environment has its own CPU), and in
a short session most invocations may be such cold starts. It prices the warm invocations' average plus a
share of cold starts the user sets (default: AWS's "under 1 %"), each billing the measured INIT: the one
measured on a cold start that had the cores to itself when there is one, else the fastest. It is built
only from the chosen function's invocations at its configured memory: runs at other sizes (a power
tuning, a memory size since changed) are counted apart in ``other_memory``, never averaged in.
"""

from __future__ import annotations

import math
import os
import statistics

from flask import Blueprint, jsonify, request

from sandbox.interface import (
    DEFAULT_COLD_START_SHARE,
    FREE_GB_SECONDS,
    FREE_REQUESTS,
    PRICE_PER_GB_SECOND,
    PRICE_PER_REQUEST,
    monthly_projection,
)
from web import context
from web.errors import ApiError
from web.views.logs import int_arg

bp = Blueprint("cost", __name__, url_prefix="/api/cost")

DEFAULT_IMAGES_PER_MONTH = 100_000
MAX_IMAGES_PER_MONTH = 10**12


def percent_arg(name: str, default: float) -> float:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 100:  # also refuses nan and inf
        raise ApiError(400, f"'{name}' must be a percentage from 0 to 100; got {raw!r}.")
    return value


def init_alone(cold: list) -> list:
    """Cold starts whose INIT overlapped no other INIT: the ones that had the machine's cores to
    themselves (an INIT ends when its environment is allocated)."""
    spans = sorted(
        (r.allocated_at - r.init_duration_ms / 1000.0, r.allocated_at, r)
        for r in cold
        if r.allocated_at is not None
    )
    alone, latest_end = [], -math.inf
    for i, (start, end, record) in enumerate(spans):
        overlaps_later = i + 1 < len(spans) and spans[i + 1][0] < end
        if latest_end <= start and not overlaps_later:
            alone.append(record)
        latest_end = max(latest_end, end)
    return alone


def measured(records: list) -> dict:
    """What the projection is built from, measured in this session."""
    billed = [r for r in records if r.billed_duration_ms is not None and r.finished]
    warm = [r for r in billed if r.cold_start is False]
    cold = [r for r in billed if r.cold_start and r.init_duration_ms is not None]
    inits = sorted(r.init_duration_ms for r in cold)
    alone = sorted(r.init_duration_ms for r in init_alone(cold))
    if warm:
        basis, basis_records = "warm", warm
        warm_billed = statistics.fmean(r.billed_duration_ms for r in warm)
    elif cold:  # no warm invocation yet: a cold one's Duration without its INIT is what a warm one bills
        basis, basis_records = "cold-duration", cold
        warm_billed = statistics.fmean(max(1, math.ceil(r.duration_ms or 0)) for r in cold)
    else:
        basis, basis_records, warm_billed = None, [], None
    return {
        "basis": basis,
        "warm": len(warm),
        "cold": len(cold),
        "warm_billed_ms": warm_billed,
        "memory_mb": statistics.fmean(r.memory_size_mb or 128 for r in basis_records)
        if basis_records
        else None,
        "init_ms_median": statistics.median(inits) if inits else None,
        "init_ms_min": inits[0] if inits else None,
        "init_ms_max": inits[-1] if inits else None,
        "init_alone": len(alone),
        "init_ms_alone_median": statistics.median(alone) if alone else None,
        "cores": os.cpu_count() or 1,
    }


def chosen_function(sb):
    """The function asked for (``function``), the default one when left out; 404 for an unknown name."""
    name = request.args.get("function")
    if not name or name == sb.function.function_name:
        return sb.function
    for fn in sb.functions():
        if fn.function_name == name:
            return fn
    raise ApiError(404, f"Function not found: {name!r} is not a function of this sandbox.")


def at_other_memory(records: list, memory_mb: int) -> list[dict]:
    """The finished invocations made at another memory size than the function's configured one."""
    sizes: dict[int, list] = {}
    for r in records:
        if r.billed_duration_ms is not None and r.finished and r.memory_size_mb != memory_mb:
            sizes.setdefault(r.memory_size_mb, []).append(r.billed_duration_ms)
    return [
        {"memory_mb": size, "invocations": len(billed), "billed_ms_mean": statistics.fmean(billed)}
        for size, billed in sorted(sizes.items(), key=lambda item: item[0] or 0)
    ]


@bp.get("")
def cost():
    sb = context.sandbox()
    images = int_arg("images", DEFAULT_IMAGES_PER_MONTH, 0, MAX_IMAGES_PER_MONTH)
    cold_pct = percent_arg("cold_pct", DEFAULT_COLD_START_SHARE * 100)
    fn = chosen_function(sb)
    architecture = fn.architecture
    summary = sb.cost
    records = [r for r in sb.invocations() if r.function_name == fn.function_name]
    configured = [r for r in records if r.memory_size_mb in (None, fn.memory_size)]
    # the session's totals and average are every function's, as billed: cold starts and all
    billed = [r for r in sb.invocations() if r.billed_duration_ms is not None and r.finished]
    average = None
    if summary.requests:
        average = {
            "billed_duration_ms": sum(r.billed_duration_ms for r in billed) / len(billed) if billed else None,
            "memory_size_mb": sum((r.memory_size_mb or 0) for r in billed) / len(billed) if billed else None,
            "gb_seconds": summary.gb_seconds / summary.requests,
            "usd": summary.total_usd / summary.requests,
        }
    facts = measured(configured)
    if facts["init_ms_alone_median"] is not None:
        init_ms, init_basis = facts["init_ms_alone_median"], "alone"
    elif facts["init_ms_min"] is not None:
        init_ms, init_basis = facts["init_ms_min"], "fastest"
    else:
        init_ms, init_basis = 0.0, None
    projection = None
    if facts["basis"] is not None:
        projection = monthly_projection(
            images, facts["warm_billed_ms"], facts["memory_mb"], cold_pct / 100, init_ms, architecture
        )
        projection.update(basis=facts["basis"], init_basis=init_basis)
    return jsonify(
        function_name=fn.function_name,
        memory_size=fn.memory_size,
        other_memory=at_other_memory(records, fn.memory_size),
        architecture=architecture,
        session={
            **summary.as_dict(architecture),
            "compute_usd": summary.compute_usd,
            "request_usd": summary.request_usd,
        },
        average=average,
        measured=facts,
        images=images,
        cold_pct=cold_pct,
        default_cold_pct=DEFAULT_COLD_START_SHARE * 100,
        projection=projection,
        prices={
            "per_request": PRICE_PER_REQUEST,
            "per_gb_second": PRICE_PER_GB_SECOND[architecture],
            "free_requests": FREE_REQUESTS,
            "free_gb_seconds": FREE_GB_SECONDS,
            "region": "us-east-1",
        },
    )
