"""Act on a burst of file-system events once, after it has been quiet for a moment (editors and copies
produce several events per save). ``DebouncedFolderWatch`` pairs watchdog's observer with a Debouncer for
the sandbox's two folder watchers (hot reload, the watched upload folder)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer


class Debouncer:
    def __init__(self, fire: Callable[[Hashable], None], quiet_s: float, name: str, poll_s: float = 0.05):
        self._fire = fire
        self._quiet_s = quiet_s
        self._poll_s = poll_s
        self._pending: dict[Hashable, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> Debouncer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def note(self, key: Hashable) -> None:
        with self._lock:
            self._pending[key] = time.monotonic()

    def _loop(self) -> None:
        while not self._stop.wait(self._poll_s):
            now = time.monotonic()
            with self._lock:
                ready = [k for k, t in self._pending.items() if now - t >= self._quiet_s]
                for key in ready:
                    del self._pending[key]
            for key in ready:
                try:
                    self._fire(key)
                except Exception:
                    pass


class DebouncedFolderWatch(FileSystemEventHandler):
    """watchdog calls the ``on_*`` methods of a subclass from its own thread; the subclass notes keys with
    ``self._debouncer.note(key)`` and ``fire(key)`` runs once the key has been quiet for ``quiet_s``."""

    def __init__(self, fire: Callable[[Hashable], None], quiet_s: float, name: str, poll_s: float = 0.05):
        self._observer = Observer()
        self._debouncer = Debouncer(fire, quiet_s, name, poll_s=poll_s)

    def _watch(self, folders) -> None:
        for folder in folders:
            self._observer.schedule(self, str(folder), recursive=True)
        self._observer.start()
        self._debouncer.start()

    def stop(self) -> None:
        self._debouncer.stop()
        self._observer.stop()
        self._observer.join(timeout=5)
