"""The Cost tab's month on AWS: the warm invocations' average plus a share of cold starts, each billing a
measured INIT; not the session's average, which cold starts that started together on a laptop's few cores
inflate. The session's own totals stay what was billed."""

from __future__ import annotations

import pytest

from helpers.stand_in import StandIn
from sandbox.config import FunctionConfiguration
from sandbox.lambda_.invocation import InvocationRecord
from sandbox.telemetry.pricing import (
    PRICE_PER_GB_SECOND,
    PRICE_PER_REQUEST,
    CostSummary,
    billed_duration_ms,
    monthly_projection,
)
from web.app import create_app
from web.views.cost import init_alone, measured

GB_S = PRICE_PER_GB_SECOND["x86_64"]


def finished(duration_ms, init_ms=None, started=0.0, memory=128, request_id=None):
    record = InvocationRecord(
        request_id=request_id or f"r{started}-{duration_ms}",
        function_name="ImageResizeLambda",
        event={},
        status="success",
        final=True,
        cold_start=init_ms is not None,
        duration_ms=duration_ms,
        init_duration_ms=init_ms,
        memory_size_mb=memory,
    )
    record.billed_duration_ms = billed_duration_ms(duration_ms, init_ms)
    record.allocated_at = started + (init_ms or 0) / 1000  # an INIT ends when its environment is allocated
    return record


def seven_sample_images_at_once():
    """What *Upload sample images* does on 2 cores: 7 cold starts whose INITs overlap (2.2-2.5 s each)."""
    return [finished(30.0, init_ms=2200 + 50 * i, started=0.01 * i) for i in range(7)]


def test_a_month_is_warm_invocations_plus_a_share_of_cold_starts_each_billing_its_init():
    month = monthly_projection(100_000, warm_billed_ms=30, memory_mb=128, cold_start_share=0.01, init_ms=400)
    assert month["cold_starts"] == 1000
    assert month["billed_ms_per_invocation"] == pytest.approx(30 + 0.01 * 400)
    assert month["gb_seconds"] == pytest.approx(100_000 * 0.034 * 128 / 1024)
    assert month["usd"] == pytest.approx(100_000 * PRICE_PER_REQUEST + month["gb_seconds"] * GB_S)
    assert month["usd_free_tier"] == 0  # well inside a month's free tier


def test_seven_cold_starts_together_do_not_set_the_price_of_a_month():
    records = seven_sample_images_at_once()
    session = CostSummary()
    for record in records:
        session.add(record.billed_duration_ms, 128)
    averaged = session.projection(100_000)  # the session's average: what the page used to show
    facts = measured(records)
    assert facts["basis"] == "cold-duration" and facts["warm_billed_ms"] == 30
    assert facts["init_alone"] == 0 and facts["init_ms_min"] == 2200 and facts["init_ms_median"] == 2350
    month = monthly_projection(
        100_000, facts["warm_billed_ms"], facts["memory_mb"], 0.01, facts["init_ms_min"]
    )
    assert month["usd"] < averaged["usd"] / 5
    assert averaged["usd"] == pytest.approx(0.48, abs=0.05)  # the figure a class would have quoted


def test_an_init_that_had_the_cores_to_itself_is_preferred_to_the_crowded_ones():
    crowded = seven_sample_images_at_once()
    alone = finished(25.0, init_ms=350, started=100.0, request_id="alone")
    assert init_alone(crowded + [alone]) == [alone]
    facts = measured(crowded + [alone] + [finished(20.0, started=200.0 + i) for i in range(3)])
    assert facts["basis"] == "warm" and facts["warm"] == 3 and facts["warm_billed_ms"] == 20
    assert facts["init_ms_alone_median"] == 350


@pytest.fixture
def client():
    sandbox = StandIn()
    sandbox.cost = CostSummary()
    sandbox.function = FunctionConfiguration()
    for record in seven_sample_images_at_once() + [finished(20.0, started=300.0 + i) for i in range(3)]:
        sandbox.records.add(record)
        sandbox.cost.add(record.billed_duration_ms, 128)
    return create_app(sandbox).test_client(), sandbox


def test_the_cost_tab_projects_from_warm_invocations_and_keeps_the_sessions_totals(client):
    client, sandbox = client
    data = client.get("/api/cost", query_string={"images": 100_000, "cold_pct": "2.5"}).json
    assert data["session"]["requests"] == 10 and data["session"]["usd"] == pytest.approx(
        sandbox.cost.total_usd
    )
    assert data["average"]["billed_duration_ms"] == pytest.approx(
        sum(r.billed_duration_ms for r in sandbox.records.all()) / 10
    )
    projection = data["projection"]
    assert projection["basis"] == "warm" and projection["warm_billed_ms"] == 20
    assert projection["cold_start_share"] == 0.025 and projection["init_basis"] == "fastest"
    assert projection["init_ms"] == 2200 and data["measured"]["init_ms_median"] == 2350
    assert data["default_cold_pct"] == 1.0


@pytest.mark.parametrize("cold_pct", ["-1", "101", "many", "nan"])
def test_a_cold_share_that_is_not_a_percentage_gets_400(client, cold_pct):
    response = client[0].get("/api/cost", query_string={"cold_pct": cold_pct})
    assert response.status_code == 400 and "cold_pct" in response.json["error"]


def test_the_sessions_average_is_every_functions_like_its_totals():
    sandbox = StandIn()
    sandbox.cost = CostSummary()
    sandbox.function = FunctionConfiguration()  # the guide's function: never invoked here
    other = finished(40.0, request_id="api-1")
    other.function_name = "ImagesApiLambda"
    sandbox.records.add(other)
    sandbox.cost.add(other.billed_duration_ms, 256)
    other.memory_size_mb = 256
    data = create_app(sandbox).test_client().get("/api/cost").json
    assert data["session"]["requests"] == 1
    assert data["average"]["billed_duration_ms"] == 40 and data["average"]["memory_size_mb"] == 256
    assert data["projection"] is None  # the guide's function has no invocation to project from
