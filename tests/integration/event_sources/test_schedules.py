"""Scheduled events end to end, through the real parts: rules made with the AWS CLI and boto3 on a
running sandbox, AWS's validation errors, the clock firing them (120x faster than real time here), the
Scheduled Event checked against Powertools' EventBridgeModel, asynchronous invocation with retries and
the dead-letter queue, EventBridge Scheduler, and the fire-rule / schedules commands."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from botocore.exceptions import ClientError

from helpers.aws_cli import aws_cli_with
from helpers.paths import HANDLERS, PROJECT_ROOT
from helpers.waiting import eventually, settle, wait_for_record

TIME_SCALE = 120  # two sandbox minutes per real second
YEARLY = "cron(0 3 1 1 ? *)"  # never due while the tests run (a year is 3 real days at 120x)
INVALID = (
    "An error occurred (ValidationException) when calling the PutRule operation: "
    "Parameter ScheduleExpression is not valid."
)


@pytest.fixture(scope="module")
def sb():
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox

    sandbox = Sandbox(
        SandboxConfig(port=0, web_port=None, time_scale=TIME_SCALE),
        FunctionConfiguration(code_dir=HANDLERS / "scheduled"),
    ).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def cli_env(sb):
    import os

    env = {**os.environ, **sb.client_environment()}
    env.pop("AWS_PROFILE", None)
    return env


def aws(env, *args) -> subprocess.CompletedProcess:
    return aws_cli_with(env)(*args, timeout=120)


def new_rule(sb, expression: str, **target) -> tuple[str, str]:
    """A rule (unique name) whose one target is the sandbox's function; returns (name, ARN)."""
    name = f"rule-{uuid.uuid4().hex[:8]}"
    events = sb.client("events")
    arn = events.put_rule(Name=name, ScheduleExpression=expression)["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": sb.function.arn(), **target}])
    return name, arn


def of_rule(name: str):
    return lambda r: r.subject == {"rule": name} and r.final


# -- configuring through EventBridge's API, with AWS's answers ----------------------------------------
def test_put_rule_refuses_an_invalid_schedule_with_awss_validation_exception(sb, cli_env, capsys):
    sb.config.terminal_logs = True  # the sandbox's own line (why) goes to the terminal
    try:
        result = aws(
            cli_env,
            "events",
            "put-rule",
            "--name",
            "bad-schedule",
            "--schedule-expression",
            "cron(0 3 * * * *)",
        )
    finally:
        sb.config.terminal_logs = False
    assert result.returncode != 0
    assert INVALID in result.stderr
    assert "One must be a question mark (?)" in capsys.readouterr().out  # what AWS does not say
    missing = aws(cli_env, "events", "describe-rule", "--name", "bad-schedule")
    assert "ResourceNotFoundException" in missing.stderr  # nothing was stored


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "cron(0 3 * * ?)",
        "cron(0 0 3 * * ? *)",
        "cron(0 3 ? * 0 *)",
        "cron(0 3 ? * MON-FRI)",
    ],
)
def test_put_rule_refusal_reaches_boto3_as_a_validation_exception(sb, expression):
    with pytest.raises(ClientError) as refused:
        sb.client("events").put_rule(Name="bad", ScheduleExpression=expression)
    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "ValidationException",
        "Parameter ScheduleExpression is not valid.",
    )
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(12 hours)",
        "cron(0 3 * * ? *)",
        "cron(0/15 8-17 ? * MON-FRI *)",
        "cron(0 0 L * ? *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 0 15W * ? 2027)",
        "cron(0 18 ? * 6L *)",
    ],
)
def test_put_rule_accepts_awss_full_syntax_and_the_sandbox_knows_its_next_time(sb, expression):
    events = sb.client("events")
    name = f"ok-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=name, ScheduleExpression=expression, State="DISABLED")
    listed = {s["name"]: s for s in sb.schedules()}
    assert listed[name]["expression"] == expression and listed[name]["state"] == "DISABLED"
    assert listed[name]["next_fire_at"] is None  # a disabled rule does not fire
    events.enable_rule(Name=name)
    listed = {s["name"]: s for s in sb.schedules()}
    assert listed[name]["next_fire_at"] > _sandbox_now(sb) and listed[name]["state"] == "ENABLED"
    events.delete_rule(Name=name)
    assert name not in {s["name"] for s in sb.schedules()}


# -- firing -------------------------------------------------------------------------------------------
def test_rule_made_with_the_aws_cli_fires_on_time_with_the_scheduled_event(sb, cli_env):
    name = f"every-minute-{uuid.uuid4().hex[:6]}"
    created = aws(cli_env, "events", "put-rule", "--name", name, "--schedule-expression", "cron(* * * * ? *)")
    assert created.returncode == 0, created.stderr
    rule_arn = json.loads(created.stdout)["RuleArn"]
    targets = aws(
        cli_env,
        "events",
        "put-targets",
        "--rule",
        name,
        "--targets",
        json.dumps([{"Id": "fn", "Arn": sb.function.arn()}]),
    )
    assert json.loads(targets.stdout)["FailedEntryCount"] == 0
    record = wait_for_record(sb, of_rule(name), what=f"rule {name} to fire by itself")
    aws(cli_env, "events", "disable-rule", "--name", name)
    assert record.status == "success", record.error_message
    assert (record.trigger, record.invocation_type, record.source, record.summary) == (
        "schedule",
        "Event",
        "aws.events",
        f"rule {name}",
    )
    event = EventBridgeModel.model_validate(record.result["event"])  # what the handler got
    assert event.detail_type == "Scheduled Event" and event.source == "aws.events"
    assert event.resources == [rule_arn] and event.detail == {} and event.region == sb.config.region
    assert record.result["event"]["time"].endswith(":00Z")  # cron fires at its minute, UTC


def test_rate_counts_from_the_rules_creation_on_the_sandbox_clock(sb):
    events = sb.client("events")
    before = _sandbox_now(sb)
    name, _ = new_rule(sb, "rate(2 minutes)")
    after = _sandbox_now(sb)
    created = {s["name"]: s for s in sb.schedules()}[name]
    assert before + 120 <= created["next_fire_at"] <= after + 120  # creation + 2 minutes
    wait_for_record(sb, of_rule(name), what=f"rate rule {name} to fire")
    events.disable_rule(Name=name)
    # the first firing, even if a second one (a period later) finished before it
    first = min((r for r in sb.records.all() if r.subject == {"rule": name}), key=lambda r: r.event["time"])
    fired_at = dt.datetime.fromisoformat(first.event["time"].replace("Z", "+00:00")).timestamp()
    assert abs(fired_at - created["next_fire_at"]) <= 1  # the event's time is its due time (whole seconds)
    assert created["next_fire_in_s"] <= 120 / TIME_SCALE + 0.5


def test_target_input_replaces_the_event(sb):
    name, _ = new_rule(sb, YEARLY, Input=json.dumps({"report": "daily"}))
    fired = sb.fire_rule(name)
    record = wait_for_record(
        sb, lambda r: r.request_id == fired[0].request_id and r.final, what="the Input invocation"
    )
    assert record.result["event"] == {"report": "daily"}
    assert record.summary == f"rule {name}"


def test_input_path_sends_part_of_the_event(sb):
    name, arn = new_rule(sb, YEARLY, InputPath="$.resources")
    fired = sb.fire_rule(name)
    record = wait_for_record(
        sb, lambda r: r.request_id == fired[0].request_id and r.final, what="the InputPath invocation"
    )
    assert record.result["event"] == [arn]


def test_scheduled_invocation_is_asynchronous_retried_then_dead_lettered(sb):
    name, _ = new_rule(sb, YEARLY, Input=json.dumps({"fail": "always"}))
    fired = sb.fire_rule(name)
    request_id = fired[0].request_id
    last = wait_for_record(
        sb,
        lambda r: r.request_id == request_id and r.attempt == 3 and r.final,
        what="the third attempt of the failing scheduled invocation",
    )
    assert last.status == "dead-lettered" and last.invocation_type == "Event"
    assert "failing on purpose" in last.error_message

    def dead_lettered():
        return [m for m in sb.dead_letters() if "always" in json.dumps(m)]

    assert eventually(dead_lettered, what="the failed scheduled event in the dead-letter queue")


def test_put_events_neither_fails_nor_invokes_a_scheduled_rules_lambda_target(sb):
    name, _ = new_rule(sb, YEARLY)
    settle(sb)
    before = len(sb.records.all())
    answer = sb.client("events").put_events(
        Entries=[{"Source": "my.app", "DetailType": "Thing", "Detail": "{}"}]
    )
    assert answer["FailedEntryCount"] == 0 and answer["Entries"][0]["EventId"]
    assert len(sb.records.all()) == before  # moto delivers synchronously: nothing ran inside PutEvents


def test_sqs_target_receives_the_scheduled_event(sb):
    sqs = sb.client("sqs")
    url = sqs.create_queue(QueueName="scheduled-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = f"to-queue-{uuid.uuid4().hex[:6]}"
    events = sb.client("events")
    rule_arn = events.put_rule(Name=name, ScheduleExpression=YEARLY)["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": queue_arn}])
    sb.fire_rule(name)
    messages = eventually(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []),
        what="the scheduled event in the queue",
    )
    assert EventBridgeModel.model_validate_json(messages[0]["Body"]).resources == [rule_arn]


def test_removed_targets_and_deleted_rules_no_longer_fire(sb):
    events = sb.client("events")
    name, _ = new_rule(sb, YEARLY)
    events.remove_targets(Rule=name, Ids=["fn"])
    assert sb.fire_rule(name) == []
    events.delete_rule(Name=name)
    from sandbox.errors import SandboxError

    with pytest.raises(SandboxError, match="No scheduled rule named"):
        sb.fire_rule(name)


def test_disabled_rule_cannot_be_fired_now(sb):
    from sandbox.errors import SandboxError

    name, _ = new_rule(sb, YEARLY)
    sb.client("events").disable_rule(Name=name)
    with pytest.raises(SandboxError, match="disabled"):
        sb.fire_rule(name)


def test_generated_scheduled_event_invoked_directly_is_described_as_its_rule(sb, capsys):
    from sandbox.cli import main  # run_local.py's, in-process: the event is the point here

    assert (
        main(["generate-event", "scheduled", "--rule", "nightly", "--event-time", "2026-11-30T03:00:00Z"])
        == 0
    )
    event = json.loads(capsys.readouterr().out)
    assert EventBridgeModel.model_validate(event).time.isoformat() == "2026-11-30T03:00:00+00:00"
    record = sb.invoke(event)
    assert (record.source, record.summary, record.subject) == (
        "aws.events",
        "rule nightly",
        {"rule": "nightly"},
    )


# -- EventBridge Scheduler ------------------------------------------------------------------------------
def test_scheduler_schedule_invokes_the_function_with_its_input(sb):
    scheduler = sb.client("scheduler")
    name = f"sched-{uuid.uuid4().hex[:6]}"
    scheduler.create_schedule(
        Name=name,
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": sb.function.arn(),
            "RoleArn": sb.function.role_arn,
            "Input": json.dumps({"from": "scheduler"}),
        },
    )
    record = wait_for_record(
        sb, lambda r: r.subject.get("schedule") == name and r.final, what=f"Scheduler schedule {name} to fire"
    )
    scheduler.delete_schedule(Name=name)
    assert record.result["event"] == {"from": "scheduler"}
    assert (record.source, record.invocation_type) == ("aws.scheduler", "Event")
    assert name not in {s["name"] for s in sb.schedules()}


def test_scheduler_one_time_schedule_fires_once_then_deletes_itself(sb):
    scheduler = sb.client("scheduler")
    name = f"once-{uuid.uuid4().hex[:6]}"
    soon = dt.datetime.fromtimestamp(_sandbox_now(sb) + 120, dt.timezone.utc)
    scheduler.create_schedule(
        Name=name,
        ScheduleExpression=f"at({soon:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={"Arn": sb.function.arn(), "RoleArn": sb.function.role_arn},
    )
    record = wait_for_record(
        sb, lambda r: r.subject.get("schedule") == name and r.final, what=f"one-time schedule {name} to fire"
    )
    assert EventBridgeModel.model_validate(record.result["event"]).source == "aws.scheduler"
    eventually(
        lambda: [s["Name"] for s in scheduler.list_schedules()["Schedules"]],
        lambda names: name not in names,
        what=f"schedule {name} to be deleted after it fired",
    )


def test_scheduler_schedule_in_a_group_can_be_fired_now_with_the_default_notification(sb):
    scheduler = sb.client("scheduler")
    scheduler.create_schedule_group(Name="reports")
    name = f"grouped-{uuid.uuid4().hex[:6]}"
    arn = scheduler.create_schedule(
        Name=name,
        GroupName="reports",
        ScheduleExpression=YEARLY,
        ScheduleExpressionTimezone="Europe/Paris",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": sb.function.arn(), "RoleArn": sb.function.role_arn},
    )["ScheduleArn"]
    listed = {s["name"]: s for s in sb.schedules()}[name]
    assert (listed["group"], listed["timezone"]) == ("reports", "Europe/Paris")
    fired = sb.fire_rule(name, kind="schedule", group="reports")
    record = wait_for_record(
        sb, lambda r: r.request_id == fired[0].request_id and r.final, what="the schedule's invocation"
    )
    event = EventBridgeModel.model_validate(record.result["event"])
    assert event.source == "aws.scheduler" and event.resources == [arn]
    assert record.subject == {"schedule": name, "group": "reports"}


def test_scheduler_refuses_an_invalid_schedule_expression(sb):
    with pytest.raises(ClientError) as refused:
        sb.client("scheduler").create_schedule(
            Name="bad",
            ScheduleExpression="rate(1 minutes)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": sb.function.arn(), "RoleArn": sb.function.role_arn},
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Invalid Schedule Expression rate(1 minutes)" in refused.value.response["Error"]["Message"]


def _sandbox_now(sb) -> float:
    return sb._schedule_source().clock.now()


# -- the CLI ---------------------------------------------------------------------------------------------
def test_fire_rule_command_fires_now_and_prints_each_result(sb):
    name, _ = new_rule(sb, YEARLY, Input=json.dumps({"hello": "class"}))
    result = subprocess.run(
        [sys.executable, "run_local.py", "fire-rule", name, "--endpoint-url", sb.endpoint_url],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"fired rule {name}: {sb.function.function_name}" in result.stdout
    assert "success in" in result.stdout and '"hello": "class"' in result.stdout
    listing = subprocess.run(
        [sys.executable, "run_local.py", "triggers", "--endpoint-url", sb.endpoint_url],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    entry = listing.stdout[listing.stdout.index(f"rule {name}") :]
    assert (
        "EventBridge rule" in listing.stdout and f"{YEARLY} -> function {sb.function.function_name}" in entry
    )
    assert f"sandbox clock {TIME_SCALE}x faster" in entry.split("\n", 3)[2]


def test_fire_rule_command_names_a_rule_that_does_not_exist(sb):
    result = subprocess.run(
        [sys.executable, "run_local.py", "fire-rule", "no-such-rule", "--endpoint-url", sb.endpoint_url],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "No scheduled rule named 'no-such-rule'" in result.stderr and "Traceback" not in result.stderr


def test_missing_invoke_permission_is_reported_once_and_the_function_still_runs(sb, capsys):
    sb.config.terminal_logs = True  # the sandbox's lines go to the terminal (stdout) only then
    try:
        name, arn = new_rule(sb, YEARLY)
        for _ in range(2):
            fired = sb.fire_rule(name)
            wait_for_record(
                sb,
                lambda r, fired=fired: r.request_id == fired[0].request_id and r.final,
                what="the invocation",
            )
        lines = [line for line in capsys.readouterr().out.splitlines() if f"rule {name} invokes" in line]
        assert len(lines) == 1 and "on AWS this invocation would fail" in lines[0]
        assert f"aws lambda add-permission --function-name {sb.function.function_name}" in lines[0]

        permitted, permitted_arn = new_rule(sb, YEARLY)
        sb.client("lambda").add_permission(
            FunctionName=sb.function.function_name,
            StatementId=f"{permitted}-events",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=permitted_arn,
        )
        fired = sb.fire_rule(permitted)
        wait_for_record(sb, lambda r: r.request_id == fired[0].request_id and r.final, what="the invocation")
        assert f"rule {permitted} invokes" not in capsys.readouterr().out
    finally:
        sb.config.terminal_logs = False


def test_time_scale_option_reaches_the_config_and_the_banner_says_so():
    from types import SimpleNamespace

    from sandbox.cli import build_parser
    from sandbox.cli.serve import _clock_line
    from sandbox.config import SandboxConfig
    from sandbox.errors import ConfigError

    assert build_parser().parse_args(["--time-scale", "60"]).time_scale == 60
    line = _clock_line(SimpleNamespace(config=SandboxConfig(time_scale=60)))
    assert "60x FASTER than real time" in line and "a real second is 1 minute" in line
    assert _clock_line(SimpleNamespace(config=SandboxConfig())) == ""  # the real clock needs no line
    with pytest.raises(ConfigError, match="--time-scale"):
        SandboxConfig(time_scale=0).validate()
