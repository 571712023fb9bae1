"""Concurrency, as Lambda scales: a burst fans out over several execution environments, never past the
reserved concurrency; throttled asynchronous events wait and are not lost; a synchronous call beyond the
limit is throttled."""

import threading

import pytest

from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, settle
from sandbox.lambda_.environment_pool import Throttled


@pytest.mark.slow
def test_burst_fans_out_over_several_environments_and_throttled_events_are_not_lost():
    sb = start_sandbox(HANDLERS / "faults", reserved_concurrency=3, maximum_retry_attempts=0)
    try:
        ids = {sb.invoke_async({"action": "sleep", "seconds": 0.3}).request_id for _ in range(12)}
        settle(sb)
        finished = [r for r in sb.invocations() if r.request_id in ids]
        assert len(finished) == 12 and all(r.status == "success" for r in finished)  # none lost
        environments = {r.environment_id for r in finished}
        assert 2 <= len(environments) <= 3  # fanned out, never past the reserved concurrency
        assert sb.runtime("ImageResizeLambda").environments_created <= 3
    finally:
        sb.stop()


@pytest.mark.slow  # holds the only environment for a second
def test_synchronous_invoke_beyond_concurrency_is_throttled():
    sb = start_sandbox(HANDLERS / "faults", reserved_concurrency=1)
    try:
        runtime = sb.runtime("ImageResizeLambda")
        slow = threading.Thread(target=sb.invoke, args=({"action": "sleep", "seconds": 1},))
        slow.start()
        # Its environment counts as busy from the moment it is chosen (cold start included) until the
        # invocation ends, a second later at the earliest.
        eventually(
            lambda: runtime.concurrent_executions,
            lambda busy: busy == 1,
            what="the slow invocation to occupy the function's only environment",
        )
        with pytest.raises(Throttled):
            sb.invoke({"action": "ok"})
        slow.join()
    finally:
        sb.stop()
