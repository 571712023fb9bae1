"""The Monitor tab's route over a real sandbox: its figures are the ones the AWS CLI reads with
``aws cloudwatch get-metric-statistics``; it is read-only and answers the sandbox's own page only."""

import datetime
import json
import threading

import botocore.endpoint
import pytest

from helpers.aws_cli import aws_cli
from helpers.page import local_app
from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually

FUNCTION = "ImageResizeLambda"


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def client(sb):
    return local_app(sb).test_client()


@pytest.fixture(scope="module")
def invoked(sb):
    """4 successes and 2 errors, synchronous (never retried), then 3 asynchronous successes."""
    for action in ["ok", "ok", "raise", "ok", "raise", "ok"]:
        sb.invoke({"action": action})
    lambda_ = sb.client("lambda")
    for _ in range(3):
        lambda_.invoke(FunctionName=FUNCTION, InvocationType="Event", Payload=b'{"action": "ok"}')
    eventually(lambda: sum(r.final for r in sb.records.all()), lambda n: n == 9, what="9 final invocations")
    sb.metrics.flush()


def cli_statistics(sb, metric: str, *statistics: str) -> list[dict]:
    now = datetime.datetime.now(datetime.timezone.utc)
    result = aws_cli(sb)(
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        "AWS/Lambda",
        "--metric-name",
        metric,
        "--dimensions",
        f"Name=FunctionName,Value={FUNCTION}",
        "--statistics",
        *statistics,
        "--period",
        "60",
        "--start-time",
        (now - datetime.timedelta(minutes=5)).isoformat(),
        "--end-time",
        (now + datetime.timedelta(minutes=1)).isoformat(),
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["Datapoints"]


def graph(data: dict, graph_id: str) -> dict:
    return next(g for g in data["graphs"] if g["id"] == graph_id)


def test_the_routes_figures_are_those_get_metric_statistics_reads(sb, client, invoked):
    data = client.get(f"/api/monitor?function={FUNCTION}&range=5m").get_json()
    assert data["function_name"] == FUNCTION and data["period"] == 10
    invocations = sum(graph(data, "invocations")["series"][0]["values"])
    errors = sum(graph(data, "errors")["series"][0]["values"])
    assert (invocations, errors) == (9, 2)
    assert sum(p["Sum"] for p in cli_statistics(sb, "Invocations", "Sum")) == invocations
    assert sum(p["Sum"] for p in cli_statistics(sb, "Errors", "Sum")) == errors
    durations = cli_statistics(sb, "Duration", "SampleCount", "Maximum")
    assert sum(p["SampleCount"] for p in durations) == 9
    cli_max = max(p["Maximum"] for p in durations)
    assert data["totals"]["Duration"]["maximum"] == pytest.approx(cli_max)
    received = sum(p["Sum"] for p in cli_statistics(sb, "AsyncEventsReceived", "Sum"))
    assert received == data["totals"]["AsyncEventsReceived"]["sum"] == 3
    assert sum(p["SampleCount"] for p in cli_statistics(sb, "AsyncEventAge", "SampleCount")) == 3


def test_each_period_has_sum_average_p50_maximum_and_the_success_rate(client, invoked):
    data = client.get(f"/api/monitor?function={FUNCTION}&range=1h").get_json()
    assert data["period"] == 60 and all(b - a == 60 for a, b in zip(data["periods"], data["periods"][1:]))
    assert all(start % 60 == 0 for start in data["periods"])
    duration = {s["stat"]: s["values"] for s in graph(data, "duration")["series"]}
    assert set(duration) == {"Average", "p50", "Maximum"}
    for average, p50, maximum in zip(duration["Average"], duration["p50"], duration["Maximum"]):
        if maximum is not None:
            assert 0 < p50 <= maximum and 0 < average <= maximum
    rates = [r for r in graph(data, "success-rate")["series"][0]["values"] if r is not None]
    invocations = sum(graph(data, "invocations")["series"][0]["values"])
    assert invocations == 9 and rates  # 9 invocations, 2 errors, in one or two minutes
    assert min(rates) < 100 and all(0 <= r <= 100 for r in rates)
    iterator = graph(data, "iterator-age")
    assert iterator["empty"] and "stream" in iterator["note"]
    assert graph(data, "throttles")["empty"] and not graph(data, "duration")["empty"]


def test_a_read_makes_no_aws_call(client, invoked, monkeypatch):
    """An open Monitor tab reads every few seconds while invocations change: a read is the sandbox's copy of
    the datapoints and the mappings it knows, never a round of calls to the endpoint."""
    calls, reader = [], threading.get_ident()
    make_request = botocore.endpoint.Endpoint.make_request

    def counted(endpoint, operation_model, request_dict):
        if threading.get_ident() == reader:
            calls.append(operation_model.name)
        return make_request(endpoint, operation_model, request_dict)

    monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", counted)
    assert client.get(f"/api/monitor?function={FUNCTION}").status_code == 200
    assert calls == []


def test_the_iterator_age_note_goes_while_a_stream_mapping_invokes_the_function(sb, client, invoked):
    table = sb.client("dynamodb").create_table(
        TableName="monitor-stream",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]
    lambda_ = sb.client("lambda")
    mapping = lambda_.create_event_source_mapping(
        EventSourceArn=table["LatestStreamArn"], FunctionName=FUNCTION, StartingPosition="LATEST"
    )["UUID"]
    try:
        data = client.get(f"/api/monitor?function={FUNCTION}").get_json()
        assert graph(data, "iterator-age")["note"] is None
    finally:
        lambda_.delete_event_source_mapping(UUID=mapping)
    data = client.get(f"/api/monitor?function={FUNCTION}").get_json()
    assert "stream" in graph(data, "iterator-age")["note"]


def test_the_session_range_starts_when_the_sandbox_started(sb, client, invoked):
    data = client.get("/api/monitor?range=session").get_json()
    assert (
        data["function_name"] == FUNCTION and data["start"] <= sb.started_at < data["start"] + data["period"]
    )
    assert data["totals"]["Invocations"]["sum"] == 9


def test_bad_arguments_get_one_clear_message(client):
    bad = client.get("/api/monitor?range=1y")
    assert bad.status_code == 400 and "5m, 1h or session" in bad.get_json()["error"]
    unknown = client.get("/api/monitor?function=%3Cimg%20src%3Dx%3E")
    assert unknown.status_code == 404 and unknown.mimetype == "application/json"


def test_the_route_is_read_only_and_answers_the_sandboxs_own_page_only(client):
    assert client.post("/api/monitor").status_code in (403, 405)
    foreign = client.get("/api/monitor", headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    cross_site = client.get("/api/monitor", headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    rebound = client.get("/api/monitor", base_url="http://evil.example:8000")
    assert rebound.status_code == 400
