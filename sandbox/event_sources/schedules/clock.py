"""The schedule clock: one thread that sleeps until the next due schedule, fires it, and sleeps again.

No polling: the thread waits on a condition until the earliest due time (at most ``MAX_WAIT_S``, so a
wall clock that jumps, say after the laptop slept, is noticed), and is woken early when a schedule is
added, changed or removed. Idle, it costs nothing.

Time is injected. ``ScaledClock`` is the sandbox's clock for schedules: the real UTC clock, or one that
runs ``scale`` times faster from the moment the sandbox started (``--time-scale 60``: a minute per second,
so ``cron(0 3 * * ? *)`` comes within 24 real minutes). Tests drive ``ScheduleTimer.run_due(now)``
directly with chosen times, without a thread and without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from sandbox.event_sources.schedules.expressions import ScheduleExpression

MAX_WAIT_S = 30.0  # real seconds between two looks at the wall clock when nothing is due sooner


class ScaledClock:
    """Epoch seconds on the sandbox's clock. ``scale`` 1 is the real clock (``time.time``); above 1 it
    starts at the real time and runs ``scale`` times faster (measured on the monotonic clock)."""

    def __init__(
        self,
        scale: float = 1.0,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        if not scale > 0:
            raise ValueError(f"the time scale must be positive; got {scale!r}")
        self.scale = float(scale)
        self._wall, self._monotonic = wall, monotonic
        self._start_wall, self._start_mono = wall(), monotonic()

    def now(self) -> float:
        if self.scale == 1.0:
            return self._wall()
        return self._start_wall + (self._monotonic() - self._start_mono) * self.scale

    def real_time_at(self, sandbox_time: float) -> float:
        """The real (wall-clock) time at which this clock shows ``sandbox_time``."""
        if self.scale == 1.0:
            return sandbox_time
        return self._start_wall + (sandbox_time - self._start_wall) / self.scale

    def real_seconds(self, sandbox_seconds: float) -> float:
        """How long ``sandbox_seconds`` on this clock take in real time."""
        return sandbox_seconds / self.scale


@dataclass
class TimerEntry:
    key: Hashable
    expression: ScheduleExpression
    anchor: float  # when a rate started counting
    not_before: float | None = None  # Scheduler's StartDate
    not_after: float | None = None  # Scheduler's EndDate
    next_due: float | None = None
    last_fired: float | None = None
    last_lag_s: float | None = None  # real seconds between the due time and the moment it fired

    def advance(self, after: float) -> None:
        start = after if self.not_before is None else max(after, self.not_before - 1e-6)
        due = self.expression.next_after(start, self.anchor)
        self.next_due = None if due is None or (self.not_after is not None and due > self.not_after) else due


class ScheduleTimer:
    """Entries keyed by the caller's own key; ``on_due(key, due)`` is called, outside the lock, for each
    entry whose time has come. After a pause longer than its period (the machine slept), an entry fires
    once for its latest due time, not once per missed occurrence."""

    def __init__(
        self,
        clock: ScaledClock,
        on_due: Callable[[Hashable, float], None],
        on_error: Callable[[Hashable, Exception], None] = lambda key, exc: None,
    ):
        self.clock = clock
        self.on_due = on_due
        self.on_error = on_error
        self._entries: dict[Hashable, TimerEntry] = {}
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- entries -------------------------------------------------------------------------------------
    def put(self, entry: TimerEntry, now: float | None = None) -> TimerEntry:
        """Add or replace an entry; its next due time is computed from ``now``."""
        entry.advance(self.clock.now() if now is None else now)
        with self._changed:
            self._entries[entry.key] = entry
            self._changed.notify_all()
        return entry

    def remove(self, key: Hashable) -> None:
        with self._changed:
            if self._entries.pop(key, None) is not None:
                self._changed.notify_all()

    def get(self, key: Hashable) -> TimerEntry | None:
        with self._changed:
            return self._entries.get(key)

    def keys(self) -> list:
        with self._changed:
            return list(self._entries)

    # -- firing --------------------------------------------------------------------------------------
    def run_due(self, now: float) -> float | None:
        """Fire every entry due at ``now``; return the earliest next due time (None: nothing scheduled)."""
        with self._changed:
            due = [
                (e.key, e.next_due)
                for e in self._entries.values()
                if e.next_due is not None and e.next_due <= now
            ]
            for key, when in due:
                entry = self._entries[key]
                entry.last_fired, entry.last_lag_s = when, self.clock.real_seconds(now - when)
                entry.advance(max(now, when))
        for key, when in sorted(due, key=lambda item: item[1]):
            try:
                self.on_due(key, when)
            except Exception as exc:  # one schedule's failure never stops the clock
                self.on_error(key, exc)
        return self.next_due()

    def next_due(self) -> float | None:
        with self._changed:
            return min((e.next_due for e in self._entries.values() if e.next_due is not None), default=None)

    # -- the thread ----------------------------------------------------------------------------------
    def start(self) -> ScheduleTimer:
        self._thread = threading.Thread(target=self._run, name="schedule-clock", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while True:
            self.run_due(self.clock.now())
            with self._changed:
                if self._stopping:
                    return
                upcoming = self.next_due()
                wait = (
                    MAX_WAIT_S if upcoming is None else self.clock.real_seconds(upcoming - self.clock.now())
                )
                if wait > 0:
                    self._changed.wait(min(wait, MAX_WAIT_S))
                if self._stopping:
                    return
