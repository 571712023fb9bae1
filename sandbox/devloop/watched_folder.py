"""A watched folder: every file dropped into it is uploaded to the source bucket through the S3 API, so it
takes the same path as any client's upload (and fires the same S3 event)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sandbox.devloop.debounce import DebouncedFolderWatch

SETTLE_S = 0.3  # a file is uploaded once its size has stopped changing for this long


class WatchedFolder(DebouncedFolderWatch):
    def __init__(
        self, folder: Path, upload: Callable[[Path, str], None], report: Callable[[str], None] = print
    ):
        super().__init__(self._upload_once, SETTLE_S, "watched-folder")
        self.folder = Path(folder).resolve()
        self.upload = upload
        self.report = report
        self._done: dict[Path, tuple[int, float]] = {}

    def start(self) -> WatchedFolder:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._watch([self.folder])
        return self

    # watchdog callbacks (its own thread): just note the path
    def on_created(self, event):
        self._note(event)

    def on_modified(self, event):
        self._note(event)

    def on_moved(self, event):
        if not event.is_directory:
            self._note_path(Path(event.dest_path))

    def on_closed(self, event):
        self._note(event)

    def _note(self, event) -> None:
        if not event.is_directory:
            self._note_path(Path(event.src_path))

    def _note_path(self, path: Path) -> None:
        name = path.name
        if name.startswith(".") or name.endswith(("~", ".tmp", ".part", ".crdownload")):
            return  # editors' and browsers' temporary files
        self._debouncer.note(path)

    def _upload_once(self, path: Path) -> None:
        try:
            stat = path.stat()
        except OSError:
            return  # gone again
        signature = (stat.st_size, stat.st_mtime)
        if self._done.get(path) == signature:
            return
        self._done[path] = signature
        key = path.resolve().relative_to(self.folder).as_posix()
        try:
            self.upload(path, key)
            self.report(f"watch: uploaded {key} ({stat.st_size:,} bytes)")
        except Exception as exc:
            self.report(f"watch: could not upload {key}: {exc}")
