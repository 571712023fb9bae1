"""What the session would cost on AWS, with and without the free tier, and a monthly projection at the
observed average."""
from __future__ import annotations

from flask import Blueprint, jsonify

from sandbox.pricing import FREE_GB_SECONDS, FREE_REQUESTS, PRICE_PER_GB_SECOND, PRICE_PER_REQUEST

from .. import context
from .logs import int_arg

bp = Blueprint("cost", __name__, url_prefix="/api/cost")

DEFAULT_IMAGES_PER_MONTH = 100_000
MAX_IMAGES_PER_MONTH = 10**12


@bp.get("")
def cost():
    sb = context.sandbox()
    images = int_arg("images", DEFAULT_IMAGES_PER_MONTH, 0, MAX_IMAGES_PER_MONTH)
    architecture = context.function().architecture
    summary = sb.cost
    billed = [r for r in sb.invocations() if r.billed_duration_ms is not None and r.finished]
    average = None
    if summary.requests:
        average = {
            "billed_duration_ms": sum(r.billed_duration_ms for r in billed) / len(billed) if billed else None,
            "memory_size_mb": sum((r.memory_size_mb or 0) for r in billed) / len(billed) if billed else None,
            "gb_seconds": summary.gb_seconds / summary.requests,
            "usd": summary.total_usd / summary.requests,
        }
    return jsonify(
        architecture=architecture,
        session={**summary.as_dict(architecture), "compute_usd": summary.compute_usd,
                 "request_usd": summary.request_usd},
        average=average,
        projection=summary.projection(images, architecture),
        prices={"per_request": PRICE_PER_REQUEST, "per_gb_second": PRICE_PER_GB_SECOND[architecture],
                "free_requests": FREE_REQUESTS, "free_gb_seconds": FREE_GB_SECONDS, "region": "us-east-1"},
    )
