"""Schedule expressions as EventBridge reads them: ``rate(N unit)``, ``cron(6 fields)`` and, for
EventBridge Scheduler, ``at(yyyy-mm-ddThh:mm:ss)``.

``rate`` is singular exactly when N is 1 and counts from the rule's creation; ``cron`` is UTC (a
Scheduler schedule may name a time zone) with AWS's fields, read by ``aws-croniter`` (croniter itself
would read a 6th field as seconds). Times are epoch seconds (floats) everywhere outside this module.

The syntax AWS accepts: docs/event-sources.md.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from aws_croniter import AwsCroniter

# EventBridge's answer to an expression it cannot read (PutRule). Scheduler words it differently.
RULE_INVALID_MESSAGE = "Parameter ScheduleExpression is not valid."
UNITS_S = {"minute": 60, "hour": 3600, "day": 86400}
# AWS documents no largest rate value. Here a rate whose period is over 100 years is refused, as AWS
# refuses an expression it cannot read: its fire times would lie beyond what a clock (or a date) can hold.
MAX_RATE_PERIOD_S = 36500 * 86400
_RATE = re.compile(r"rate\((?P<value>\d+) (?P<unit>minutes?|hours?|days?)\)")
_CRON = re.compile(r"cron\((?P<fields>.*)\)")
_AT = re.compile(r"at\((?P<at>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
UTC = dt.timezone.utc


class InvalidScheduleExpression(ValueError):
    """An expression EventBridge would refuse; the message says why, for the sandbox's own output (AWS
    answers only ``Parameter ScheduleExpression is not valid.``)."""


@dataclass(frozen=True)
class ScheduleExpression:
    text: str
    kind: str  # "rate", "cron" or "at"
    period_s: int = 0  # rate
    cron: AwsCroniter | None = None
    at: dt.datetime | None = None  # naive, in ``timezone``
    timezone: str = "UTC"

    def next_after(self, after: float, anchor: float) -> float | None:
        """The first time strictly after ``after`` the expression fires (None: never again). ``anchor``
        is when a rate started counting (the rule's creation)."""
        if self.kind == "rate":
            # anchor, anchor + period, ...: the first strictly after ``after`` (a rule: creation + period)
            periods = int((after - anchor) // self.period_s) + 1 if after >= anchor else 0
            due = anchor + periods * self.period_s
            return due if due > after else due + self.period_s
        if self.kind == "at":
            due = _Zone(self.timezone).localize(self.at)
            return due if due > after else None
        zone = _Zone(self.timezone)
        local = zone.wall_clock(after)  # croniter counts in wall-clock time: UTC, or the schedule's zone
        for _ in range(3):  # a wall-clock time skipped by a DST change is tried again a minute later
            found = self.cron.get_next(local)[0]
            if found is None:
                return None
            due = zone.localize(found.replace(tzinfo=None))
            if due > after:
                return due
            local = found
        return None

    def describe(self) -> str:
        """``cron(0 3 * * ? *) UTC``: the expression, with the zone its wall-clock times are in."""
        return self.text if self.kind == "rate" else f"{self.text} {self.timezone}"


def parse(text: str, *, allow_at: bool = False, timezone: str | None = None) -> ScheduleExpression:
    """Read an expression, or raise InvalidScheduleExpression saying what is wrong with it."""
    if not isinstance(text, str):
        raise InvalidScheduleExpression("the schedule expression must be a string")
    zone_name = timezone or "UTC"
    _Zone(zone_name)  # an unknown zone raises here
    rate = _RATE.fullmatch(text)
    if rate:
        value, unit = int(rate["value"]), rate["unit"]
        if value < 1:
            raise InvalidScheduleExpression(f"{text}: the rate must be a positive whole number")
        if value * UNITS_S[unit.rstrip("s")] > MAX_RATE_PERIOD_S:
            raise InvalidScheduleExpression(
                f"{text}: the rate's period is over 100 years (36500 days), more "
                f"than the sandbox can schedule"
            )
        if (value == 1) != (not unit.endswith("s")):
            raise InvalidScheduleExpression(
                f"{text}: use the singular unit exactly when the value is 1 (rate(1 {unit.rstrip('s')}), "
                f"rate({max(value, 2)} {unit.rstrip('s')}s))"
            )
        return ScheduleExpression(text, "rate", period_s=value * UNITS_S[unit.rstrip("s")])
    cron = _CRON.fullmatch(text)
    if cron:
        try:
            parsed = AwsCroniter(cron["fields"])
        except ValueError as exc:  # AwsCroniterExpressionError is a ValueError, and so are int() failures
            raise InvalidScheduleExpression(f"{text}: {exc}") from None
        return ScheduleExpression(text, "cron", cron=parsed, timezone=zone_name)
    at = _AT.fullmatch(text)
    if at and allow_at:
        try:
            when = dt.datetime.strptime(at["at"], "%Y-%m-%dT%H:%M:%S")
        except ValueError as exc:
            raise InvalidScheduleExpression(f"{text}: {exc}") from None
        return ScheduleExpression(text, "at", at=when, timezone=zone_name)
    kinds = "rate(...), cron(...) or at(...)" if allow_at else "rate(...) or cron(...)"
    raise InvalidScheduleExpression(f"{text!r} is not {kinds}")


class _Zone:
    """UTC or a named time zone (Scheduler's ScheduleExpressionTimezone), as epoch seconds <-> wall clock."""

    def __init__(self, name: str):
        if name == "UTC":
            self.tz = UTC
        else:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                self.tz = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise InvalidScheduleExpression(f"unknown time zone {name!r}") from None

    def wall_clock(self, epoch: float) -> dt.datetime:
        """The wall-clock time at ``epoch``, labelled UTC (the form aws-croniter computes with)."""
        return dt.datetime.fromtimestamp(epoch, self.tz).replace(tzinfo=UTC)

    def localize(self, wall: dt.datetime) -> float:
        return wall.replace(tzinfo=self.tz).timestamp()


def iso(epoch: float) -> str:
    """EventBridge's time format: ``2026-11-30T03:00:00Z`` (UTC, whole seconds)."""
    return dt.datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
