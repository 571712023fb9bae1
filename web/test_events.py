"""The Test tab's saved test events: per function, named as the Lambda console names them (letters,
digits, ``-`` and ``_``, at most 25 characters), each a plain JSON event.

Kept in the sandbox's state directory when it has one (``--state-dir``: they survive a restart, beside
the functions they test), else in memory for as long as the sandbox runs. One store per sandbox, shared by
every app over it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import weakref

from sandbox.errors import SandboxError

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,25}")
MAX_NAME_LENGTH = 25
PREFIX = "test-events/"


class SavedEventError(SandboxError):
    """A name or an event the store refuses; the message says why."""


def check_name(name) -> str:
    """``name`` when the console would take it as a test event's name; else one clear message."""
    if not isinstance(name, str) or not name:
        raise SavedEventError("Give the event a name: letters, digits, - and _, at most 25 characters.")
    if len(name) > MAX_NAME_LENGTH:
        raise SavedEventError(
            f"The event name is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed."
        )
    if not NAME_PATTERN.fullmatch(name):
        bad = sorted({c for c in name if not re.fullmatch(r"[A-Za-z0-9_-]", c)})
        shown = " ".join(repr(c) for c in bad[:5])
        raise SavedEventError(f"The event name may hold only letters, digits, - and _ (not {shown}).")
    return name


class SavedEvents:
    """Saved test events of every function: ``names``, ``get``, ``save``, ``delete``. ``kept``: the state
    directory's values (``sandbox.interface.KeptValues``), or None to keep them in memory."""

    def __init__(self, kept=None):
        self.kept = kept
        self._lock = threading.Lock()
        self._events: dict[str, dict[str, dict]] = {}  # function -> name -> {"event", "saved_at"}
        if kept is not None:
            for key, value in kept.saved(PREFIX):
                function, _, name = key[len(PREFIX) :].partition("/")
                if isinstance(value, dict) and "event" in value and name:
                    self._events.setdefault(function, {})[name] = value

    @property
    def persistent(self) -> bool:
        return self.kept is not None

    def list(self, function: str) -> list[dict]:
        """``[{"name", "saved_at", "bytes"}]`` of one function's events, by name."""
        with self._lock:
            events = dict(self._events.get(function, {}))
        return [
            {"name": name, "saved_at": item["saved_at"], "bytes": len(json.dumps(item["event"]))}
            for name, item in sorted(events.items(), key=lambda pair: pair[0].lower())
        ]

    def get(self, function: str, name: str):
        with self._lock:
            item = self._events.get(function, {}).get(name)
        if item is None:
            raise KeyError(name)
        return item["event"]

    def save(self, function: str, name: str, event) -> dict:
        """Save (or replace) ``name``: written to the state directory before this returns."""
        check_name(name)
        item = {"event": event, "saved_at": time.time()}
        with self._lock:
            if self.kept is not None:
                self.kept.save(f"{PREFIX}{function}/{name}", item)
            self._events.setdefault(function, {})[name] = item
        return {"name": name, "saved_at": item["saved_at"]}

    def delete(self, function: str, name: str) -> None:
        with self._lock:
            if name not in self._events.get(function, {}):
                raise KeyError(name)
            if self.kept is not None:
                self.kept.forget(f"{PREFIX}{function}/{name}")
            del self._events[function][name]


_stores: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def saved_events(sandbox) -> SavedEvents:
    """The sandbox's store of saved test events (made on first use)."""
    with _stores_lock:
        store = _stores.get(sandbox)
        if store is None:
            store = SavedEvents(getattr(sandbox, "persistence", None))
            _stores[sandbox] = store
        return store
