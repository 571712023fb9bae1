"""Hot reload: saving a file in a function's code directory retires its warm environments, so the next
invocation is a cold start with the new code — no restart of the sandbox. (On AWS the equivalent is
``update-function-code``, which also retires every warm environment.)"""
from __future__ import annotations

from pathlib import Path

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from .debounce import Debouncer

DEBOUNCE_S = 0.2


class CodeWatcher(FileSystemEventHandler):
    def __init__(self, sandbox, report=print):
        self.sandbox = sandbox
        self.report = report
        self._observer = Observer()
        self._debouncer = Debouncer(self._retire, DEBOUNCE_S, "hot-reload")
        self._watched: dict[str, str] = {}  # folder -> function name

    def start(self) -> "CodeWatcher":
        for function in self.sandbox.functions():
            if function.strict_imports:
                continue  # code from a zip (create-function): it changes through the API only
            folder = str(Path(function.code_dir).resolve())
            self._watched[folder] = function.function_name
            self._observer.schedule(self, folder, recursive=True)
        self._observer.start()
        self._debouncer.start()
        return self

    def stop(self) -> None:
        self._debouncer.stop()
        self._observer.stop()
        self._observer.join(timeout=5)

    def on_any_event(self, event):
        if event.is_directory or event.event_type in ("opened", "closed_no_write"):
            return
        path = str(Path(event.src_path).resolve())
        if "__pycache__" in path or path.endswith((".pyc", "~", ".swp", ".tmp")):
            return
        for folder, name in self._watched.items():
            if path.startswith(folder):
                self._debouncer.note(name)

    def _retire(self, name: str) -> None:
        runtime = self.sandbox.runtime(name)
        if runtime is None:
            return
        self.sandbox.retire_environments(name)
        self.report(f"code changed in {runtime.function.code_dir}: {name}'s warm environments "
                    f"retired; the next invocation is a cold start")
