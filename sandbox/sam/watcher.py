"""Hot reload for functions that run from a template's folders: saving a file in a function's
``CodeUri`` folder (or in the ``ContentUri`` folder of a layer it uses) retires its warm environments,
so the next invocation is a cold start with the new code, as for the sandbox's own function
(sandbox/devloop/hot_reload.py, whose watching this reuses: here a folder may serve several functions). On AWS
the equivalent is ``sam sync --watch`` or a new deployment."""

from __future__ import annotations

from pathlib import Path

from sandbox.devloop.hot_reload import CodeWatcher


class FolderWatcher(CodeWatcher):
    def __init__(self, sandbox, folders: dict[Path, set[str]], report):
        super().__init__(sandbox, report=report)
        self._functions = {str(Path(folder).resolve()): set(names) for folder, names in folders.items()}

    def start(self) -> FolderWatcher:
        self._watched = {folder: folder for folder in self._functions}  # a change notes its folder
        self._watch(self._watched)
        return self

    def _retire(self, folder: str) -> None:
        for name in sorted(self._functions.get(folder, ())):
            if self.sandbox.runtime(name) is None:
                continue  # deleted meanwhile
            self.sandbox.retire_environments(name)
            self.report(
                f"code changed in {folder}: {name}'s warm environments retired; the next invocation "
                f"is a cold start"
            )
