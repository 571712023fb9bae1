"""Schedule expressions as EventBridge reads them (pure units): rate() counts from the rule's creation,
cron() is AWS's six-field syntax in UTC, and whatever AWS refuses is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.event_sources.schedules.expressions import InvalidScheduleExpression, iso, parse

UTC = dt.timezone.utc


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def fires(expression: str, after: str, anchor: str | None = None, count: int = 1, **options) -> list[str]:
    parsed = parse(expression, **options)
    times, moment = [], at(after)
    for _ in range(count):
        moment = parsed.next_after(moment, at(anchor or after))
        times.append(iso(moment) if moment is not None else None)
    return times


def test_rate_counts_from_the_rules_creation():
    assert fires("rate(5 minutes)", "2026-11-30T10:02:30", count=3) == [
        "2026-11-30T10:07:30Z",
        "2026-11-30T10:12:30Z",
        "2026-11-30T10:17:30Z",
    ]
    assert fires("rate(1 hour)", "2026-11-30T10:02:30") == ["2026-11-30T11:02:30Z"]
    assert fires("rate(2 days)", "2026-11-30T10:02:30") == ["2026-12-02T10:02:30Z"]


@given(
    value=st.integers(min_value=2, max_value=10_000),
    unit=st.sampled_from(["minutes", "hours", "days"]),
    elapsed=st.floats(min_value=0, max_value=1e8),
)
def test_rate_fires_at_whole_periods_after_creation_and_never_at_or_before_now(value, unit, elapsed):
    expression = parse(f"rate({value} {unit})")
    anchor = at("2026-01-01T00:00:00")
    due = expression.next_after(anchor + elapsed, anchor)
    assert due > anchor + elapsed
    assert due - (anchor + elapsed) <= expression.period_s + 1e-6
    periods = (due - anchor) / expression.period_s
    assert abs(periods - round(periods)) < 1e-6 and round(periods) >= 1


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(-5 minutes)",
        "rate(1.5 hours)",
        "rate(5 seconds)",
        "rate(5 weeks)",
        "rate(5  minutes)",
        "rate(5minutes)",
        "rate()",
        "rate(5 Minutes)",
    ],
)
def test_rate_refused_unless_a_positive_whole_number_with_its_unit_in_the_right_number(expression):
    with pytest.raises(InvalidScheduleExpression):
        parse(expression)


def test_cron_fires_in_utc_at_its_minute():
    assert fires("cron(0 3 * * ? *)", "2026-11-30T02:59:59", count=2) == [
        "2026-11-30T03:00:00Z",
        "2026-12-01T03:00:00Z",
    ]
    assert fires("cron(0 3 * * ? *)", "2026-11-30T03:00:00") == ["2026-12-01T03:00:00Z"]  # strictly after
    assert fires("cron(*/15 * * * ? *)", "2026-11-30T10:07:12", count=2) == [
        "2026-11-30T10:15:00Z",
        "2026-11-30T10:30:00Z",
    ]


def test_cron_numbers_days_of_the_week_from_sunday_as_1():
    # 2026-11-29 is a Sunday
    assert fires("cron(0 12 ? * 1 *)", "2026-11-25T00:00:00") == ["2026-11-29T12:00:00Z"]
    assert fires("cron(0 12 ? * SUN *)", "2026-11-25T00:00:00") == ["2026-11-29T12:00:00Z"]
    assert fires("cron(0 8 ? * MON-FRI *)", "2026-11-27T09:00:00", count=2) == [  # Friday 09:00
        "2026-11-30T08:00:00Z",
        "2026-12-01T08:00:00Z",
    ]


def test_cron_last_nearest_weekday_and_nth_weekday_of_the_month():
    assert fires("cron(0 0 L * ? *)", "2026-02-01T00:00:00") == ["2026-02-28T00:00:00Z"]
    assert fires("cron(0 0 15W * ? *)", "2026-11-01T00:00:00") == [
        "2026-11-16T00:00:00Z"
    ]  # the 15th is a Sunday
    assert fires("cron(0 9 ? * 2#1 *)", "2026-11-30T10:00:00") == ["2026-12-07T09:00:00Z"]  # first Monday
    assert fires("cron(0 9 ? * 6L *)", "2026-11-01T00:00:00") == ["2026-11-27T09:00:00Z"]  # last Friday


def test_cron_with_a_year_field_stops_after_it():
    assert fires("cron(0 0 1 1 ? 2027)", "2026-11-30T00:00:00", count=2) == ["2027-01-01T00:00:00Z", None]


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 3 * * * *)",  # day-of-month and day-of-week both given: one must be ?
        "cron(0 3 ? * ? *)",  # ... or both ?
        "cron(0 3 * * ?)",  # five fields (Unix cron)
        "cron(0 0 3 * * ? *)",  # seven fields (Quartz seconds)
        "cron(60 3 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 3 32 * ? *)",
        "cron(0 3 * 13 ? *)",
        "cron(0 3 ? * 0 *)",  # days of the week are 1-7
        "cron(0 3 ? * 8 *)",
        "cron(0 3 * * ? 1969)",
        "cron(0 3 ? * 2#6 *)",
        "cron(bad)",
        "cron()",
        "0 3 * * ? *",
        "every day",
        "",
        "at(2026-12-01T03:00:00)",
    ],
)
def test_cron_refused_where_aws_refuses_it(expression):
    with pytest.raises(InvalidScheduleExpression):
        parse(expression)


def test_at_expression_is_for_scheduler_schedules_only():
    assert fires("at(2026-12-01T03:00:00)", "2026-11-30T00:00:00", count=2, allow_at=True) == [
        "2026-12-01T03:00:00Z",
        None,
    ]
    with pytest.raises(InvalidScheduleExpression):
        parse("at(2026-12-01T03:00:00)")


def test_scheduler_cron_counts_in_its_time_zone():
    # 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer
    assert fires("cron(0 9 * * ? *)", "2026-11-30T00:00:00", allow_at=True, timezone="Europe/Paris") == [
        "2026-11-30T08:00:00Z"
    ]
    assert fires("cron(0 9 * * ? *)", "2026-06-30T00:00:00", allow_at=True, timezone="Europe/Paris") == [
        "2026-06-30T07:00:00Z"
    ]
    with pytest.raises(InvalidScheduleExpression):
        parse("cron(0 9 * * ? *)", timezone="Mars/Olympus_Mons")
