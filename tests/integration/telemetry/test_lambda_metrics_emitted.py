"""The AWS/Lambda metrics AWS emits where the sandbox observes the same event: DestinationDeliveryFailures
when a destination does not take a record, and the asynchronous invocation metrics (AsyncEventsReceived,
AsyncEventAge, AsyncEventsDropped); each readable with get-metric-statistics under AWS's name and unit.
A stream mapping's IteratorAge: tests/integration/event_sources/test_event_source_mappings.py."""

import datetime

import pytest

from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, wait_for_record

FUNCTION = "ImageResizeLambda"


def statistics(sb, metric: str, statistic: str) -> list[dict]:
    sb.metrics.flush()
    now = datetime.datetime.now(datetime.timezone.utc)
    return sb.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": FUNCTION}],
        StartTime=now - datetime.timedelta(minutes=5),
        EndTime=now + datetime.timedelta(minutes=1),
        Period=60,
        Statistics=[statistic],
    )["Datapoints"]


@pytest.fixture(scope="module")
def faults():
    sandbox = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


def test_a_destination_that_does_not_take_the_record_counts_a_delivery_failure(faults):
    lambda_ = faults.client("lambda")
    lambda_.put_function_event_invoke_config(
        FunctionName=FUNCTION,
        DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:no-such-queue"}},
    )
    lambda_.invoke(FunctionName=FUNCTION, InvocationType="Event", Payload=b'{"action": "ok"}')
    wait_for_record(faults, lambda r: r.final and r.status == "success", what="the asynchronous invocation")
    points = eventually(
        lambda: statistics(faults, "DestinationDeliveryFailures", "Sum"), what="a delivery failure"
    )
    assert sum(p["Sum"] for p in points) == 1 and points[0]["Unit"] == "Count"
    received = statistics(faults, "AsyncEventsReceived", "Sum")
    assert sum(p["Sum"] for p in received) == 1
    ages = statistics(faults, "AsyncEventAge", "SampleCount")
    assert sum(p["SampleCount"] for p in ages) == 1 and ages[0]["Unit"] == "Milliseconds"


def test_an_event_that_fails_every_attempt_counts_as_dropped(faults):
    faults.client("lambda").invoke(
        FunctionName=FUNCTION, InvocationType="Event", Payload=b'{"action": "raise"}'
    )
    wait_for_record(
        faults, lambda r: r.final and r.status != "success", what="the failed event to be given up"
    )
    points = eventually(lambda: statistics(faults, "AsyncEventsDropped", "Sum"), what="a dropped event")
    assert sum(p["Sum"] for p in points) == 1
