"""The debouncer behind hot reload and the watched folder: one fire per burst, once the burst is quiet, and
a thread that sleeps while nothing is pending."""

from __future__ import annotations

import time

from sandbox.devloop.debounce import Debouncer


def _debouncer(quiet_s: float):
    fired: list[tuple[str, float]] = []
    debouncer = Debouncer(lambda key: fired.append((key, time.monotonic())), quiet_s, "test-debounce")
    return debouncer.start(), fired


def test_a_burst_of_notes_fires_once_after_the_last_note_has_been_quiet():
    debouncer, fired = _debouncer(0.2)
    try:
        for _ in range(5):
            last = time.monotonic()
            debouncer.note("index.js")
            time.sleep(0.05)
        deadline = time.monotonic() + 5
        while not fired and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # a second fire would come within a quiet period
        assert [key for key, _ in fired] == ["index.js"]
        assert fired[0][1] - last >= 0.2
    finally:
        debouncer.stop()


def test_keys_fire_on_their_own_quiet_periods():
    debouncer, fired = _debouncer(0.15)
    try:
        debouncer.note("a")
        time.sleep(0.1)
        debouncer.note("b")
        deadline = time.monotonic() + 5
        while len(fired) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [key for key, _ in fired] == ["a", "b"]
    finally:
        debouncer.stop()


def test_an_idle_debouncer_sleeps_until_a_note_and_stops_at_once():
    debouncer, fired = _debouncer(0.1)
    waits = []
    original = debouncer._changed.wait
    debouncer._changed.wait = lambda timeout=None: (waits.append(timeout), original(timeout))[1]
    debouncer.note("x")  # wakes it; the new wait counts from here
    deadline = time.monotonic() + 5
    while not fired and time.monotonic() < deadline:
        time.sleep(0.01)
    waits.clear()
    time.sleep(0.5)  # nothing pending: no wake-ups at all
    assert waits == [] or waits == [None]
    debouncer.stop()
    debouncer._thread.join(2)
    assert not debouncer._thread.is_alive()
