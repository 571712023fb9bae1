"""Lambda's CloudWatch metrics, written to the local endpoint's CloudWatch (namespace ``AWS/Lambda``,
dimension ``FunctionName``), readable with ``aws cloudwatch get-metric-statistics``.

AWS emits these itself; the sandbox emits the same names from what it observed: Invocations, Errors,
Duration, Throttles, ConcurrentExecutions, DeadLetterErrors, RecursiveInvocationsDropped. A background
thread batches the writes so an invocation never waits for them.
"""
from __future__ import annotations

import queue
import threading
import time

UNITS = {"Invocations": "Count", "Errors": "Count", "Duration": "Milliseconds", "Throttles": "Count",
         "ConcurrentExecutions": "Count", "DeadLetterErrors": "Count", "RecursiveInvocationsDropped": "Count"}


class LambdaMetrics:
    def __init__(self, client=None):
        self._client = client
        self._queue: "queue.Queue[dict | None]" = queue.Queue()
        self.totals: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._thread = None
        if client is not None:
            self._thread = threading.Thread(target=self._loop, name="cloudwatch-metrics", daemon=True)
            self._thread.start()

    def put(self, function_name: str, name: str, value: float = 1.0) -> None:
        with self._lock:
            key = (function_name, name)
            self.totals[key] = self.totals.get(key, 0.0) + value
        if self._client is not None:
            self._queue.put({"MetricName": name, "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
                             "Value": float(value), "Unit": UNITS.get(name, "None"), "Timestamp": time.time()})

    def total(self, function_name: str, name: str) -> float:
        with self._lock:
            return self.totals.get((function_name, name), 0.0)

    def flush(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self._thread is not None and self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        if self._thread is not None:
            self.flush()
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.task_done()
                return
            batch = [item]
            while len(batch) < 500:
                try:
                    extra = self._queue.get_nowait()
                except queue.Empty:
                    break
                if extra is None:
                    self._queue.put(None)
                    self._queue.task_done()
                    break
                batch.append(extra)
            try:
                for start in range(0, len(batch), 1000):
                    self._client.put_metric_data(Namespace="AWS/Lambda", MetricData=batch[start:start + 1000])
            except Exception:
                pass  # the endpoint is going away; totals are still kept in memory
            for _ in batch:
                self._queue.task_done()
