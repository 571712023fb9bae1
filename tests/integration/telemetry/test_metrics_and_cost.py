"""What each invocation is counted as: CloudWatch's AWS/Lambda metrics, and the session's cost."""

import datetime

import pytest

from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


def test_invocation_metrics_are_readable_with_get_metric_statistics(sb):
    sb.invoke({"action": "ok"})
    sb.invoke({"action": "raise"})
    sb.metrics.flush()
    now = datetime.datetime.now(datetime.timezone.utc)
    cloudwatch = sb.client("cloudwatch")

    def total(name, stat="Sum"):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=name,
            Dimensions=[{"Name": "FunctionName", "Value": "ImageResizeLambda"}],
            StartTime=now - datetime.timedelta(minutes=5),
            EndTime=now + datetime.timedelta(minutes=1),
            Period=60,
            Statistics=[stat],
        )["Datapoints"]
        return sum(p[stat] for p in points)

    assert total("Invocations") >= 2 and total("Errors") >= 1
    assert total("Duration", "SampleCount") >= 2
    assert total("ConcurrentExecutions", "Maximum") >= 1


def test_session_cost_counts_requests_and_gb_seconds(sb):
    before = sb.cost.requests
    record = sb.invoke({"action": "ok"})
    assert sb.cost.requests == before + 1
    assert record.gb_seconds == pytest.approx(record.billed_duration_ms / 1000 * 128 / 1024)
    assert record.cost_usd == pytest.approx(0.2e-6 + record.gb_seconds * 0.0000166667)
