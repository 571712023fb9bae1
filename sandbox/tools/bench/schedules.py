"""Benchmark of scheduled events (``run_local.py bench --only schedules``): how long after its minute a
scheduled rule fires (goal: within 1 s), measured, never asserted.

- real clock: a rule ``cron(* * * * ? *)`` targeting a no-op function, over the next minute boundaries:
  the invocation's detection (the clock firing) and its handler's start, each minus the minute;
- sandbox clock 60x faster (``--time-scale 60``): the same rule fires every real second; the same lags in
  real time, over many fires.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from pathlib import Path

from sandbox.config import FunctionConfiguration, SandboxConfig

NOOP = Path(__file__).resolve().parent / "handlers" / "noop"
RULE = "bench-every-minute"


def _line(label, value, goal=""):
    print(f"  {label:<58} {value:>14}  {goal}")


def _due(record) -> float:
    return dt.datetime.fromisoformat(record.event["time"].replace("Z", "+00:00")).timestamp()


def _fires(minutes: int, time_scale: float) -> list[tuple[float, float]]:
    """(fire lag, handler-start lag) in real ms for each of ``minutes`` fires of an every-minute rule."""
    from sandbox.core import Sandbox

    with Sandbox(
        SandboxConfig(port=0, web_port=None, time_scale=time_scale), FunctionConfiguration(code_dir=NOOP)
    ) as sb:
        events = sb.client("events")
        events.put_rule(Name=RULE, ScheduleExpression="cron(* * * * ? *)")
        events.put_targets(Rule=RULE, Targets=[{"Id": "noop", "Arn": sb.function.arn()}])
        clock = next(s for s in sb.event_sources if getattr(s, "name", "") == "schedules").clock
        real = clock.real_time_at  # when, in real time, the sandbox clock showed a time

        deadline = time.monotonic() + 60 / time_scale * (minutes + 1) + 30
        done = []
        while time.monotonic() < deadline:
            done = [r for r in sb.invocations() if r.trigger == "schedule" and r.final and r.started_at]
            if len(done) >= minutes:
                break
            time.sleep(0.05)
        events.disable_rule(Name=RULE)
        return [
            ((r.detected_at - real(_due(r))) * 1000, (r.started_at - real(_due(r))) * 1000)
            for r in sorted(done, key=_due)[:minutes]
        ]


def run(real_minutes: int = 2, fast_minutes: int = 30) -> dict:
    figures = {}
    seconds = 60 - time.time() % 60
    print(f"  (waiting for {real_minutes} minute boundaries of the real clock; the first in {seconds:.0f} s)")
    for key, label, fires in (
        ("real", "real clock", _fires(real_minutes, 1.0)),
        ("x60", "sandbox clock x60", _fires(fast_minutes, 60.0)),
    ):
        if not fires:
            _line(f"{label}: no fire seen", "-")
            continue
        fire_lags, start_lags = [f for f, _ in fires], [s for _, s in fires]
        warm = start_lags[1:] or start_lags
        figures[key] = {
            "fires": len(fires),
            "fire_lag_ms_max": max(fire_lags),
            "fire_lag_ms_p50": statistics.median(fire_lags),
            "cold_start_lag_ms": start_lags[0],
            "warm_start_lag_ms_p50": statistics.median(warm),
        }
        _line(
            f"{label}: rule fired after its minute, max of {len(fires)}",
            f"{max(fire_lags):.1f} ms",
            "goal <= 1000 ms",
        )
        _line(f"{label}: ... p50", f"{statistics.median(fire_lags):.1f} ms")
        _line(
            f"{label}: handler started after the minute: cold / warm p50",
            f"{start_lags[0]:.0f} / {statistics.median(warm):.0f} ms",
        )
    return figures
