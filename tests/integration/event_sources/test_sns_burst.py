"""A burst of 1,000 SNS publishes fanned out to a queue and a function, through a running sandbox: every
message reaches each subscriber exactly once, counted by message id (the bench's own measurement,
sandbox/tools/bench/sns_fanout.py, whose figures it prints)."""

from __future__ import annotations

import pytest

from helpers.sandboxes import start_sandbox
from sandbox.tools.bench.sns_fanout import NOOP, fan_out, print_figures

pytestmark = pytest.mark.slow


def test_a_burst_of_publishes_reaches_the_queue_and_the_function_exactly_once():
    sb = start_sandbox(NOOP, timeout=10)
    try:
        figures = fan_out(sb, 1000)
    finally:
        sb.stop()
    print_figures(figures)
    assert (figures["queue_lost"], figures["queue_twice"], figures["queue_unknown"]) == (0, 0, 0)
    assert (figures["function_lost"], figures["function_twice"], figures["function_failed"]) == (0, 0, 0)
