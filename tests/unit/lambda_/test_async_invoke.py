"""The asynchronous invoke queue on its own, with a fake runtime and a fake clock (fast units)."""

import threading
import time

from sandbox.config import FunctionConfiguration
from sandbox.lambda_ import async_invoke
from sandbox.lambda_.async_invoke import AsyncInvoker
from sandbox.lambda_.environment_pool import Throttled
from sandbox.lambda_.invocation import InvocationLog, InvocationRecord


class FakeRuntime:
    """Fails the first ``failures`` attempts, throttles the first ``throttles`` calls."""

    def __init__(self, failures=0, throttles=0, **config):
        self.function = FunctionConfiguration(**config)
        self.failures, self.throttles, self.calls = failures, throttles, 0
        self.lock = threading.Lock()

    def invoke(self, record, payload):
        with self.lock:
            self.calls += 1
            if self.throttles:
                self.throttles -= 1
                raise Throttled("busy")
            failing = self.failures > 0
            self.failures -= 1
        record.status = "error" if failing else "success"
        record.billed_duration_ms = 1
        return record


def _invoker(runtime, clock=time.time, scale=0.001):  # retries after 60 and 120 ms
    failures = []
    records = InvocationLog()
    invoker = AsyncInvoker(
        lambda record: runtime,
        records,
        on_failure=lambda r, c: failures.append(c) or True,
        retry_delay_scale=scale,
        workers=2,
        clock=clock,
    )
    return invoker, records, failures


def _submit(invoker, clock=time.time):
    return invoker.submit(
        InvocationRecord(
            request_id="r-1", function_name="ImageResizeLambda", event={"n": 1}, detected_at=clock()
        )
    )


def test_a_success_is_final_after_one_attempt():
    invoker, records, failures = _invoker(FakeRuntime())
    _submit(invoker)
    assert records.wait_for(lambda r: r.final, 5).status == "success"
    invoker.stop()
    assert failures == []


def test_errors_are_retried_then_dead_lettered_with_the_same_request_id():
    runtime = FakeRuntime(failures=5)
    invoker, records, failures = _invoker(runtime)
    _submit(invoker)
    last = records.wait_for(lambda r: r.final and r.attempt == 3, 10)
    invoker.stop()
    assert last.status == "dead-lettered" and failures == ["RetriesExhausted"]
    assert [r.attempt for r in records.all()] == [1, 2, 3] and {r.request_id for r in records.all()} == {
        "r-1"
    }


def test_retry_attempts_setting_is_honoured():
    invoker, records, failures = _invoker(FakeRuntime(failures=5, maximum_retry_attempts=0))
    _submit(invoker)
    assert records.wait_for(lambda r: r.final, 5).attempt == 1
    invoker.stop()
    assert failures == ["RetriesExhausted"]


def test_second_attempt_succeeds_after_one_failure():
    invoker, records, _ = _invoker(FakeRuntime(failures=1))
    _submit(invoker)
    assert records.wait_for(lambda r: r.final and r.attempt == 2, 10).status == "success"
    invoker.stop()


def test_throttled_events_wait_and_are_not_lost(monkeypatch):
    # The fake runtime hands no environment back, so each throttled attempt waits for the back-off timer.
    monkeypatch.setattr(async_invoke, "THROTTLE_RETRY_S", 0.02)
    runtime = FakeRuntime(throttles=3)
    invoker, records, failures = _invoker(runtime)
    _submit(invoker)
    assert records.wait_for(lambda r: r.final, 10).status == "success"
    invoker.stop()
    assert runtime.calls == 4 and failures == []


def test_an_event_older_than_the_maximum_age_is_not_run():
    now = [1000.0]
    runtime = FakeRuntime(maximum_event_age_s=60)
    invoker, records, failures = _invoker(runtime, clock=lambda: now[0])
    record = InvocationRecord(
        request_id="old", function_name="ImageResizeLambda", event={}, detected_at=now[0]
    )
    now[0] += 61
    invoker.submit(record)
    assert records.wait_for(lambda r: r.final, 5) is record
    invoker.stop()
    assert runtime.calls == 0 and failures == ["EventAgeExceeded"]


def test_the_log_is_idle_only_once_every_attempt_is_final():
    records = InvocationLog()
    records.add(InvocationRecord(request_id="open", function_name="ImageResizeLambda", event={}))
    assert records.wait_idle(0.05) is False
    invoker, records, _ = _invoker(FakeRuntime(failures=1))
    _submit(invoker)
    assert records.wait_idle(10) is True  # not between the failed attempt and its retry
    assert [(r.attempt, r.status, r.final) for r in records.all()] == [
        (1, "error", True),
        (2, "success", True),
    ]
    invoker.stop()


def test_an_event_is_counted_received_aged_each_attempt_and_dropped_when_given_up():
    metrics = []
    records = InvocationLog()
    invoker = AsyncInvoker(
        lambda name: FakeRuntime(failures=5),
        records,
        on_failure=lambda r, c: True,
        retry_delay_scale=0.001,
        workers=2,
        count_metric=lambda function, name, value=1.0: metrics.append((function, name, value)),
    )
    _submit(invoker)
    records.wait_for(lambda r: r.final and r.attempt == 3, 10)
    invoker.stop()
    names = [name for _, name, _ in metrics]
    assert names.count("AsyncEventsReceived") == 1 and names.count("AsyncEventsDropped") == 1
    ages = [value for _, name, value in metrics if name == "AsyncEventAge"]
    assert len(ages) == 3 and ages == sorted(ages)  # the age grows with each retry
    assert {function for function, _, _ in metrics} == {"ImageResizeLambda"}
