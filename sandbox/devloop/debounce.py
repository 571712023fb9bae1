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
    """``note(key)`` as events come; ``fire(key)`` runs in the Debouncer's thread once ``key`` has been quiet
    for ``quiet_s``. The thread sleeps until a key is due (or noted): an idle sandbox wakes it never."""

    def __init__(self, fire: Callable[[Hashable], None], quiet_s: float, name: str):
        self._fire = fire
        self._quiet_s = quiet_s
        self._pending: dict[Hashable, float] = {}
        self._changed = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> Debouncer:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()

    def note(self, key: Hashable) -> None:
        with self._changed:
            self._pending[key] = time.monotonic()
            self._changed.notify()

    def _due(self) -> list:
        """The keys quiet for ``quiet_s`` (taken out), waiting until one is; [] once stopped."""
        with self._changed:
            while not self._stopped:
                now = time.monotonic()
                ready = [k for k, t in self._pending.items() if now - t >= self._quiet_s]
                if ready:
                    for key in ready:
                        del self._pending[key]
                    return ready
                earliest = min(self._pending.values(), default=None)
                self._changed.wait(None if earliest is None else earliest + self._quiet_s - now)
            return []

    def _loop(self) -> None:
        while ready := self._due():
            for key in ready:
                try:
                    self._fire(key)
                except Exception:
                    pass


class DebouncedFolderWatch(FileSystemEventHandler):
    """watchdog calls the ``on_*`` methods of a subclass from its own thread; the subclass notes keys with
    ``self._debouncer.note(key)`` and ``fire(key)`` runs once the key has been quiet for ``quiet_s``."""

    def __init__(self, fire: Callable[[Hashable], None], quiet_s: float, name: str):
        self._observer = Observer()
        self._debouncer = Debouncer(fire, quiet_s, name)

    def _watch(self, folders) -> None:
        for folder in folders:
            self._observer.schedule(self, str(folder), recursive=True)
        self._observer.start()
        self._debouncer.start()

    def stop(self) -> None:
        self._debouncer.stop()
        self._observer.stop()
        self._observer.join(timeout=5)
