"""The schedule clock (pure units, time injected): one thread that sleeps until the next due schedule,
a clock that can run faster than real time, and what each target is sent."""

from __future__ import annotations

import datetime
import threading

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from sandbox.event_sources.schedules import clock as clock_module
from sandbox.event_sources.schedules import describe
from sandbox.event_sources.schedules.clock import ScaledClock, ScheduleTimer, TimerEntry
from sandbox.event_sources.schedules.expressions import parse
from sandbox.event_sources.schedules.targets import (
    json_path,
    lambda_function_name,
    scheduled_event,
    target_payload,
)

RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/nightly"
WHEN = datetime.datetime(2026, 11, 30, 3, 0, tzinfo=datetime.timezone.utc).timestamp()


class FakeTime:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def timer_with(fired: list, now: FakeTime) -> ScheduleTimer:
    return ScheduleTimer(ScaledClock(1.0, wall=now), lambda key, due: fired.append((key, due)))


def test_entry_fires_when_due_and_not_before():
    now, fired = FakeTime(), []
    timer = timer_with(fired, now)
    timer.put(TimerEntry("r", parse("rate(5 minutes)"), anchor=now.now))
    assert timer.run_due(now.now + 299.9) == now.now + 300
    assert fired == []
    assert timer.run_due(now.now + 300) == now.now + 600
    assert fired == [("r", now.now + 300)]
    assert timer.run_due(now.now + 300.5) == now.now + 600
    assert len(fired) == 1


def test_after_a_long_pause_an_entry_fires_once_for_its_latest_time():
    now, fired = FakeTime(), []
    timer = timer_with(fired, now)
    timer.put(TimerEntry("r", parse("rate(1 minute)"), anchor=now.now))
    timer.run_due(now.now + 3600 + 30)  # the machine slept an hour
    assert fired == [("r", now.now + 60)]
    assert timer.get("r").next_due == now.now + 3660


def test_removed_entry_no_longer_fires_and_earliest_entry_sets_the_next_wake():
    now, fired = FakeTime(), []
    timer = timer_with(fired, now)
    timer.put(TimerEntry("slow", parse("rate(10 minutes)"), anchor=now.now))
    timer.put(TimerEntry("fast", parse("rate(2 minutes)"), anchor=now.now))
    assert timer.next_due() == now.now + 120
    timer.remove("fast")
    assert timer.next_due() == now.now + 600
    timer.run_due(now.now + 600)
    assert [key for key, _ in fired] == ["slow"]


def test_scheduler_start_and_end_dates_bound_an_entry():
    now, fired = FakeTime(), []
    timer = timer_with(fired, now)
    entry = timer.put(
        TimerEntry(
            "s",
            parse("rate(1 hour)"),
            anchor=now.now + 7200,
            not_before=now.now + 7200,
            not_after=now.now + 7200 + 3600,
        )
    )
    assert entry.next_due == now.now + 7200  # a rate with a StartDate starts at it
    timer.run_due(now.now + 7200)
    timer.run_due(now.now + 10800)
    assert timer.get("s").next_due is None
    assert len(fired) == 2


def test_scaled_clock_runs_n_times_faster_from_the_real_time():
    wall, monotonic = FakeTime(1_800_000_000.0), FakeTime(50.0)
    fast = ScaledClock(60, wall=wall, monotonic=monotonic)
    monotonic.now += 2.5
    assert fast.now() == 1_800_000_000.0 + 150
    assert fast.real_seconds(60) == 1.0
    assert fast.real_time_at(1_800_000_000.0 + 150) == 1_800_000_000.0 + 2.5  # when it showed that time
    with pytest.raises(ValueError):
        ScaledClock(0)


def test_clock_thread_wakes_for_a_schedule_added_while_it_sleeps(monkeypatch):
    """Nothing polls: asleep with nothing to do, the thread is woken by the new entry and fires it on time
    (with the idle cap raised to an hour, only that wake-up can make it fire)."""
    monkeypatch.setattr(clock_module, "MAX_WAIT_S", 3600.0)
    fired = threading.Event()
    timer = ScheduleTimer(ScaledClock(), lambda key, due: fired.set()).start()
    try:
        now = timer.clock.now()
        timer.put(TimerEntry("soon", parse("rate(1 minute)"), anchor=now - 59.8))  # due in 0.2 s
        assert fired.wait(60), "the clock thread did not fire the entry added while it slept"
    finally:
        timer.stop()


def test_one_failing_schedule_does_not_stop_the_others():
    now, fired, errors = FakeTime(), [], []

    def on_due(key, due):
        if key == "bad":
            raise RuntimeError("boom")
        fired.append(key)

    timer = ScheduleTimer(ScaledClock(1.0, wall=now), on_due, lambda key, exc: errors.append((key, str(exc))))
    timer.put(TimerEntry("bad", parse("rate(1 minute)"), anchor=now.now))
    timer.put(TimerEntry("good", parse("rate(1 minute)"), anchor=now.now))
    timer.run_due(now.now + 60)
    assert fired == ["good"] and errors == [("bad", "boom")]


# -- what the targets are sent ---------------------------------------------------------------------------
def test_scheduled_event_passes_powertools_eventbridge_model():
    event = scheduled_event(RULE_ARN, "us-east-1", "123456789012", WHEN)
    model = EventBridgeModel.model_validate(event)
    assert model.detail_type == "Scheduled Event" and model.source == "aws.events"
    assert model.resources == [RULE_ARN] and model.detail == {}
    assert event["time"] == "2026-11-30T03:00:00Z"
    assert describe(event) == ("aws.events", "rule nightly", {"rule": "nightly"})


def test_target_input_replaces_the_event_and_input_path_selects_part_of_it():
    event = scheduled_event(RULE_ARN, "us-east-1", "123456789012", WHEN)
    assert target_payload({"Input": '{"report": "daily"}'}, event, "nightly", RULE_ARN) == {"report": "daily"}
    assert target_payload({"InputPath": "$.resources[0]"}, event, "nightly", RULE_ARN) == RULE_ARN
    assert target_payload({"InputPath": "$.detail"}, event, "nightly", RULE_ARN) == {}
    assert target_payload({"Id": "plain"}, event, "nightly", RULE_ARN) is event
    assert json_path(event, "$['detail-type']") == "Scheduled Event"
    assert json_path(event, "$.nothing.here") is None


def test_input_transformer_fills_its_template():
    event = scheduled_event(RULE_ARN, "us-east-1", "123456789012", WHEN)
    transformer = {
        "InputPathsMap": {"when": "$.time", "what": "$.resources"},
        "InputTemplate": (
            '{"at": <when>, "rules": <what>, "text": "fired at <when> by <aws.events.rule-name>"}'
        ),
    }
    assert target_payload({"InputTransformer": transformer}, event, "nightly", RULE_ARN) == {
        "at": "2026-11-30T03:00:00Z",
        "rules": [RULE_ARN],
        "text": "fired at 2026-11-30T03:00:00Z by nightly",
    }


def test_lambda_targets_are_named_by_function_arn_with_or_without_qualifier():
    assert lambda_function_name("arn:aws:lambda:us-east-1:123456789012:function:Report") == "Report"
    # the alias or version the target names is the one that runs
    assert lambda_function_name("arn:aws:lambda:us-east-1:123456789012:function:Report:live") == "Report:live"
    assert lambda_function_name("arn:aws:sqs:us-east-1:123456789012:queue") is None
