"""A background writer that drains a queue in batches, so callers (an invocation, the log reader) never
wait for the local endpoint. Used for CloudWatch Logs and CloudWatch metrics.

``linger_s`` lets a batch gather for a moment before it is written, as AWS's own log and metric delivery
does (CloudWatch shows Lambda's lines after a short delay): one write per burst instead of one per line,
which keeps the sandbox's CPU for the invocations. ``flush()`` writes at once."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable


class BatchWriter:
    def __init__(
        self,
        write: Callable[[list], None],
        name: str,
        max_batch: int = 1000,
        max_queued: int = 100_000,
        linger_s: float = 0.0,
    ):
        self._write = write
        self._linger_s = linger_s
        self._flushing = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=max_queued)
        self._max_batch = max_batch
        self.dropped = 0
        self._stop = object()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def put(self, item) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1  # a runaway producer: keep the sandbox responsive rather than every line

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far has been written."""
        deadline = time.monotonic() + timeout
        self._flushing.set()
        try:
            while self._queue.unfinished_tasks and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            self._flushing.clear()

    def close(self) -> None:
        self.flush()
        self._queue.put(self._stop)
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is self._stop:
                self._queue.task_done()
                return
            batch, stopping = [first], False
            until = time.monotonic() + self._linger_s
            while len(batch) < self._max_batch:
                try:
                    wait = until - time.monotonic()
                    if wait <= 0 or self._flushing.is_set():
                        item = self._queue.get_nowait()
                    else:
                        item = self._queue.get(timeout=min(wait, 0.05))
                except queue.Empty:
                    if time.monotonic() >= until or self._flushing.is_set():
                        break
                    continue
                if item is self._stop:
                    stopping = True
                    self._queue.task_done()
                    break
                batch.append(item)
            try:
                self._write(batch)
            except Exception:
                pass  # the endpoint is going away; the in-memory copies still have everything
            for _ in batch:
                self._queue.task_done()
            if stopping:
                return


class BatchedWrites:
    """For a class whose writes go through an optional ``self._writer`` (None: nothing is written, as in
    unit tests without an endpoint)."""

    _writer: BatchWriter | None = None

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far has been written to the endpoint."""
        if self._writer is not None:
            self._writer.flush(timeout)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
