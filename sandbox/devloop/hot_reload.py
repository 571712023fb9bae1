"""Hot reload: saving a file in a function's code directory retires its warm environments, so the next
invocation is a cold start with the new code — no restart of the sandbox. (On AWS the equivalent is
``update-function-code``, which also retires every warm environment.)"""

from __future__ import annotations

from pathlib import Path

from sandbox.devloop.debounce import DebouncedFolderWatch

DEBOUNCE_S = 0.2


class CodeWatcher(DebouncedFolderWatch):
    def __init__(self, sandbox, report=print):
        super().__init__(self._retire, DEBOUNCE_S, "hot-reload")
        self.sandbox = sandbox
        self.report = report
        self._watched: dict[str, str] = {}  # folder -> function name

    def start(self) -> CodeWatcher:
        for function in self.sandbox.functions():
            if function.strict_imports:
                continue  # code from a zip (create-function): it changes through the API only
            folder = str(Path(function.code_dir).resolve())
            self._watched[folder] = function.function_name
        self._watch(self._watched)
        return self

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
        self.report(
            f"code changed in {runtime.function.code_dir}: {name}'s warm environments "
            f"retired; the next invocation is a cold start"
        )
