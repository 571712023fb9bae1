"""A schedule's rate too large to compute is refused where it is made (PutRule, Scheduler's CreateSchedule,
a template's scheduled rule) with AWS's ValidationException, and the triggers view answers whatever rule is
stored: one whose times cannot be computed is listed as such. The real AWS CLI against a running sandbox makes
each refused request and reads the stack's events; boto3 makes the accepted rules and reads state."""

from __future__ import annotations

import json
import textwrap
import urllib.request

import pytest
from botocore.exceptions import ClientError

from helpers.aws_cli import aws_cli
from helpers.sandboxes import start_sandbox
from sandbox.config import ACCOUNT_ID

HUGE = "rate(99999999999999999999 days)"
INVALID = (
    "An error occurred (ValidationException) when calling the PutRule operation: "
    "Parameter ScheduleExpression is not valid."
)


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


def _aws(sb, *args):
    return aws_cli(sb)(*args, timeout=120)


def _triggers(sb) -> list[dict]:
    with urllib.request.urlopen(f"{sb.endpoint_url}/_sandbox/triggers", timeout=30) as answer:
        assert answer.status == 200
        return json.loads(answer.read())["triggers"]


def test_put_rule_refuses_a_rate_too_large_and_the_triggers_view_keeps_answering(sb):
    result = _aws(sb, "events", "put-rule", "--name", "huge-rate", "--schedule-expression", HUGE)
    assert result.returncode != 0 and INVALID in result.stderr, result.stderr
    with pytest.raises(ClientError):  # not kept
        sb.client("events").describe_rule(Name="huge-rate")
    assert _triggers(sb) is not None


def test_the_longest_rate_accepted_still_shows_its_next_time(sb):
    events = sb.client("events")
    events.put_rule(Name="century", ScheduleExpression="rate(36500 days)")
    try:
        shown = [t for t in _triggers(sb) if t["source"] == "rule century"]
        assert shown and shown[0]["next_fire"] and shown[0]["state"] == "Enabled"
        with pytest.raises(ClientError) as refused:
            events.put_rule(Name="longer", ScheduleExpression="rate(36501 days)")
        assert INVALID in str(refused.value)
    finally:
        assert _aws(sb, "events", "delete-rule", "--name", "century").returncode == 0


def test_create_schedule_refuses_a_rate_too_large(sb):
    result = _aws(
        sb,
        "scheduler",
        "create-schedule",
        "--name",
        "huge-rate",
        "--schedule-expression",
        HUGE,
        "--flexible-time-window",
        "Mode=OFF",
        "--target",
        json.dumps({"Arn": sb.function.arn(), "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/r"}),
    )
    assert result.returncode != 0 and "ValidationException" in result.stderr, result.stderr
    assert f"Invalid Schedule Expression {HUGE}" in result.stderr
    assert _aws(sb, "scheduler", "get-schedule", "--name", "huge-rate").returncode != 0


def test_a_template_with_a_rate_too_large_fails_with_the_validation_error(sb, tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(
        textwrap.dedent(f"""\
        Resources:
          Nightly:
            Type: AWS::Events::Rule
            Properties:
              ScheduleExpression: "{HUGE}"
        """)
    )
    result = _aws(
        sb, "cloudformation", "deploy", "--stack-name", "huge-rate", "--template-file", str(template)
    )
    assert result.returncode != 0
    described = _aws(sb, "cloudformation", "describe-stack-events", "--stack-name", "huge-rate")
    events = json.loads(described.stdout)
    reasons = " ".join(e.get("ResourceStatusReason", "") for e in events["StackEvents"])
    assert "Parameter ScheduleExpression is not valid." in reasons, reasons
    assert _triggers(sb) is not None


def test_a_stored_rule_whose_times_cannot_be_computed_is_listed_as_such(sb):
    from moto.events.models import events_backends

    # as a state kept before PutRule checked the rate would hold it
    events_backends[ACCOUNT_ID][sb.config.region].put_rule("kept-huge", scheduled_expression=HUGE)
    try:  # any change through the API makes the sandbox re-read every rule
        sb.client("events").put_rule(Name="daily", ScheduleExpression="rate(1 day)")
        shown = [t for t in _triggers(sb) if t["source"] == "rule kept-huge"]
        assert shown and shown[0]["state"] == "Cannot be computed" and shown[0]["next_fire"] is None, shown
        assert HUGE in shown[0]["detail"]
    finally:
        for name in ("kept-huge", "daily"):
            sb.client("events").delete_rule(Name=name)
