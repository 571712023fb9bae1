"""Asynchronous invocation, the way S3 invokes Lambda: queue, retries, dead letters.

The caller gets its answer at once; a function error or timeout is retried up to ``MaximumRetryAttempts``
times (AWS waits about 1 and 2 minutes; the sandbox 1 and 2 seconds unless told otherwise); a throttled
event stays queued until ``MaximumEventAgeInSeconds``; an event that fails every attempt goes to the
dead-letter queue and/or the on-failure destination, never silently lost; a success goes to the
on-success destination. Retries keep the request id;
each attempt is its own InvocationRecord. It counts what AWS's asynchronous invocation metrics count:
AsyncEventsReceived (queued), AsyncEventAge (queued to invoked, each attempt), AsyncEventsDropped (given up).

AWS's semantics: docs/execution-environment.md.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.lambda_.environment_pool import EnvironmentPool, Throttled
from sandbox.lambda_.invocation import (
    DEAD_LETTERED,
    ERROR,
    OUT_OF_MEMORY,
    RUNNING,
    SUCCESS,
    THROTTLED,
    TIMEOUT,
    InvocationLog,
    InvocationRecord,
)

AWS_RETRY_DELAYS_S = (60.0, 120.0)  # before the 2nd and the 3rd attempt
# AWS keeps throttled asynchronous events and retries them with back-off (up to 6 hours). The sandbox
# retries one as soon as an environment of its function is handed back, and after this long at most.
THROTTLE_RETRY_S = 1.0


@dataclass
class QueuedEvent:
    record: InvocationRecord
    payload: bytes
    first_seen: float = field(default_factory=time.time)


class AsyncInvoker:
    def __init__(
        self,
        runtimes: Callable[[InvocationRecord], EnvironmentPool | None],  # the pool of the version it runs
        records: InvocationLog,
        on_failure: Callable[[InvocationRecord, str], None] | None = None,
        on_success: Callable[[InvocationRecord], None] | None = None,
        retry_delay_scale: float = 1 / 60,
        workers: int = 10,
        clock=time.time,
        count_metric: Callable[..., None] | None = None,
    ):
        self.runtimes = runtimes
        self.records = records
        self.on_failure = on_failure or (lambda record, condition: False)
        self.on_success = on_success or (lambda record: None)  # the on-success destination
        self.retry_delay_scale = retry_delay_scale
        self.clock = clock
        self._count_metric = count_metric or (lambda function_name, name, value=1.0: None)
        self._queue: queue.Queue[QueuedEvent | None] = queue.Queue()
        self._timers: set[threading.Timer] = set()
        self._throttled: dict[str, list[QueuedEvent]] = {}  # function name -> events waiting for capacity
        self._throttle_lock = threading.Lock()
        self._stopping = False
        self._workers = [
            threading.Thread(target=self._work, name=f"async-invoke-{i}", daemon=True) for i in range(workers)
        ]
        for worker in self._workers:
            worker.start()

    def submit(self, record: InvocationRecord, payload: bytes | None = None) -> InvocationRecord:
        """Queue an event (InvocationType=Event). Returns at once, as Lambda answers 202."""
        payload = payload if payload is not None else json.dumps(record.event).encode()
        if record.queued_at is None:
            record.queued_at = self.clock()
        self.records.add(record)
        self._count_metric(record.function_name, "AsyncEventsReceived")
        self._queue.put(QueuedEvent(record, payload, first_seen=record.detected_at))
        return record

    def halt(self) -> None:
        """Start no retry or queued event from now on (the sandbox is stopping)."""
        self._stopping = True
        for timer in list(self._timers):
            timer.cancel()

    def stop(self) -> None:
        self.halt()
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=5)

    # -- internals -----------------------------------------------------------------------------------
    def capacity_available(self, function_name: str) -> None:
        """An environment of this function was handed back: retry its oldest throttled event now."""
        with self._throttle_lock:
            waiting = self._throttled.get(function_name)
            item = waiting.pop(0) if waiting else None
        if item is not None and not self._stopping:
            self._queue.put(item)

    def _later(self, delay: float, item: QueuedEvent, only_if_waiting: bool = False) -> None:
        if self._stopping:
            return

        def fire():
            self._timers.discard(timer)
            if only_if_waiting:  # a throttled event not yet picked up by capacity_available
                with self._throttle_lock:
                    waiting = self._throttled.get(item.record.function_name, [])
                    if item not in waiting:
                        return
                    waiting.remove(item)
            if not self._stopping:
                self._queue.put(item)

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        self._timers.add(timer)
        timer.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._stopping:
                continue  # the sandbox is stopping: queued events are not started
            try:
                self._run(item)
            except Exception as exc:  # never lose an event to a sandbox bug
                item.record.status = ERROR
                item.record.error_type = "Sandbox.InternalError"
                item.record.error_message = f"{type(exc).__name__}: {exc}"
                self._give_up(item.record, "SandboxError")

    def _run(self, item: QueuedEvent) -> None:
        record = item.record
        record.dequeued_at = self.clock()
        runtime = self.runtimes(record)
        if runtime is None:
            record.status = ERROR
            record.error_type = "ResourceNotFoundException"
            record.error_message = f"Function not found: {record.function_name}"
            self.records.changed(record)
            self._count_metric(record.function_name, "AsyncEventsDropped")
            return
        function = runtime.function
        age = self.clock() - item.first_seen
        if age > function.maximum_event_age_s:
            self._give_up(record, "EventAgeExceeded")
            return
        record.status = RUNNING
        self.records.changed(record)
        try:
            runtime.invoke(record, item.payload)
        except Throttled:
            record.status = THROTTLED
            self.records.changed(record)
            with self._throttle_lock:
                self._throttled.setdefault(record.function_name, []).append(item)
            self._later(THROTTLE_RETRY_S, item, only_if_waiting=True)
            return
        self._count_metric(record.function_name, "AsyncEventAge", max(0.0, age) * 1000)
        record.responded_at = self.clock()
        if record.status == SUCCESS:
            record.final = True
            self.records.changed(record)
            self.on_success(record)
            return
        if record.status in (ERROR, TIMEOUT, OUT_OF_MEMORY):
            if record.attempt <= function.maximum_retry_attempts:
                delay = AWS_RETRY_DELAYS_S[record.attempt - 1] * self.retry_delay_scale
                retry = record.next_attempt()
                retry.queued_at = self.clock()
                self.records.add(retry)
                self._later(delay, QueuedEvent(retry, item.payload, item.first_seen))
                record.final = True  # this attempt is over; the retry is its own record
                self.records.changed(record)
            else:
                self._give_up(record, "RetriesExhausted")
        else:
            record.final = True
            self.records.changed(record)

    def _give_up(self, record: InvocationRecord, condition: str) -> None:
        """No attempt left: to the dead-letter queue / on-failure destination, or discarded (as on AWS
        when neither is configured; the record keeps its error)."""
        self._count_metric(record.function_name, "AsyncEventsDropped")
        if self.on_failure(record, condition):
            record.status = DEAD_LETTERED
        record.final = True
        self.records.changed(record)
