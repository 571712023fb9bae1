"""The state directory's database: one SQLite file, written before an acknowledgement leaves the sandbox.

Two tables: ``entities`` (the latest state of one thing, replaced as a whole) and ``appends`` (requests
replayed in order after the entities, for services that grow in small steps, such as CloudWatch Logs).
``seq`` orders everything; ``crc`` (CRC-32 of ``data``) is checked as each row is read. The format is in
``PRAGMA user_version``: a newer one is refused with a message, an older one brought up to date.

Why SQLite, the tables and the checks: docs/state-internals.md.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from sandbox.errors import SandboxError

FORMAT = 2  # PRAGMA user_version; bump when the meaning of a table changes (2: the crc columns)
DATABASE = "state.sqlite3"
LOCK_FILE = "lock"


Damaged = Callable[[str, str], None]  # told the name of an entry whose bytes are not what was written
MISMATCH = "does not match the checksum it was written with: its bytes were changed on disk"


def crc(data: bytes) -> int:
    """The checksum kept with a blob (CRC-32: one pass, about 2 GB/s here)."""
    return zlib.crc32(data)


def intact(data: bytes, kept: int | None) -> bool:
    """``data`` is what was written with checksum ``kept`` (None: written before checksums, unchecked)."""
    return kept is None or crc(data) == kept


class StateError(SandboxError):
    """The state directory cannot be used as it is; the message says why and what to do."""


class StateRefused(StateError):
    """The state directory is not this sandbox's to read (another user's, writable by others, a link, in
    use): --fresh and --salvage do not touch it either."""


def own_directory(path: str | os.PathLike) -> Path:
    """``path``, made (mode 0700) if missing, once it is known to be this user's alone: its pickles run code
    when a sandbox restores them, so a directory another user owns or can write to is refused before
    anything in it is read or written."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        found = os.stat(path)
    except OSError as exc:
        raise StateRefused(
            f"The state directory {path} cannot be used ({exc.strerror}); choose another --state-dir."
        ) from None
    if not stat.S_ISDIR(found.st_mode):
        raise StateRefused(f"The state directory {path} is not a directory; choose another --state-dir.")
    if found.st_uid != os.geteuid():
        raise StateRefused(
            f"The state directory {path} belongs to another user (uid {found.st_uid}), "
            f"whose state would run code in this sandbox; nothing in it was read: choose a "
            f"directory of your own with --state-dir."
        )
    if found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StateRefused(
            f"The state directory {path} can be written by other users (mode "
            f"{stat.S_IMODE(found.st_mode):04o}), who could plant state that runs code in "
            f"this sandbox; nothing in it was read: make it yours alone with "
            f"`chmod 700 {path}` (if you trust what is in it) or choose another --state-dir."
        )
    return path


def open_private(path: Path, flags: int) -> int:
    """A file of the state directory, never through a symbolic link; created mode 0600 (``os.O_CREAT``)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StateRefused(
                f"{path} in the state directory is a symbolic link, which the sandbox does "
                f"not follow; remove it (or choose another --state-dir)."
            ) from None
        raise


def _refuse_links(directory: Path, names) -> None:
    """SQLite follows links: its files must be plain files (or absent) before it opens them."""
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISREG(os.lstat(directory / name).st_mode):
                raise StateRefused(
                    f"{directory / name} in the state directory is not a plain file (a "
                    f"symbolic link?), which the sandbox does not follow; remove it (or "
                    f"choose another --state-dir)."
                )


def _damaged(path: Path, detail: str) -> StateError:
    return StateError(
        f"The state directory {path} is damaged ({detail}); nothing was restored. Start with --fresh to "
        f"begin empty (the damaged state is kept aside in {path}/damaged-<time>/), or with --salvage to "
        "restore what can still be read and leave the rest aside."
    )


class StateStore:
    """The state database of one sandbox. Thread-safe: every write takes the store's lock, so a write
    made of a read of live state (a pickle) and its commit happens in one piece."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._seq = 0
        self._opened = False  # a database refused at open is closed without writing to it
        self._durable = True  # synchronous=FULL (set at open)
        self._commits = 0  # commits made, and how many of them are known flushed to disk
        self._synced_upto = 0
        self.writes = 0  # commits made since opening (the bench reports them)
        self.syncs = 0  # flushes made by sync()

    # -- opening -------------------------------------------------------------------------------------
    def open(self) -> StateStore:
        self._take_directory_lock()  # the directory is checked to be this user's first
        path = self.directory / DATABASE
        new = not path.exists()
        try:
            _refuse_links(self.directory, (DATABASE, DATABASE + "-wal", DATABASE + "-shm"))
            # created 0600 here, since SQLite would use 0644; its WAL and shared memory take this file's mode
            os.close(open_private(path, os.O_RDWR | os.O_CREAT))
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            if new:  # larger pages: an object is a few pages, not fifty (measured: commits ~10 % faster)
                self._db.execute("PRAGMA page_size=16384")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if not new and version == 0 and self._tables() == set():
                new = True  # an empty file (a crash right after creating it)
            if new:
                self._create()
            elif version > FORMAT:
                raise StateError(
                    f"The state directory {self.directory} was written by a newer version of the sandbox "
                    f"(state format {version}; this one reads format {FORMAT}). Update the sandbox, use "
                    f"another --state-dir, or start with --fresh (the newer state is kept aside)."
                )
            elif version < 1 or not {"entities", "appends", "meta"} <= self._tables():
                raise _damaged(self.directory, f"{DATABASE} is not a sandbox state database")
            else:
                check = self._db.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise _damaged(self.directory, f"SQLite's check says: {check}")
                if version < FORMAT:
                    self._upgrade()
            self._seq = (
                self._db.execute(
                    "SELECT max(m) FROM (SELECT max(seq) AS m FROM entities UNION ALL SELECT max(seq) FROM "
                    "appends)"
                ).fetchone()[0]
                or 0
            )
            self._opened = True
        except sqlite3.DatabaseError as exc:
            self.close()
            raise _damaged(self.directory, f"SQLite says: {exc}") from None
        except BaseException:
            self.close()
            raise
        return self

    def _tables(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def _create(self) -> None:
        with self._transaction():
            self._db.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS entities(name TEXT PRIMARY KEY, "
                "seq INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS appends(seq INTEGER PRIMARY KEY, "
                "service TEXT NOT NULL, data BLOB NOT NULL, crc INTEGER)"
            )
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('created', ?)",
                (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),),
            )
            self._db.execute(f"PRAGMA user_version = {FORMAT}")

    def _upgrade(self) -> None:
        """Format 1 to 2: the checksum columns, NULL for what is already there (read unchecked)."""
        with self._transaction():
            for table in ("entities", "appends"):
                if "crc" not in {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN crc INTEGER")
            self._db.execute(f"PRAGMA user_version = {FORMAT}")

    def _take_directory_lock(self) -> None:
        """One sandbox per state directory: a second one gets a message, not a shared, corrupted state."""
        import fcntl

        own_directory(self.directory)
        path = self.directory / LOCK_FILE
        try:  # a new lock file is this process's own; one left by a stopped sandbox is taken over
            fd = open_private(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            fd = open_private(path, os.O_RDWR)
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_uid != os.geteuid():
            os.close(fd)
            raise StateRefused(
                f"{path} in the state directory is not a plain file of yours; remove it (or "
                f"choose another --state-dir)."
            )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StateRefused(
                f"The state directory {self.directory} is in use by another sandbox (process "
                f"{holder}); stop it, or give this one another --state-dir."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def close(self) -> None:
        with self.lock:
            if self._db is not None:
                if self._opened:  # fold the write-ahead log into the database: one file at rest
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
                self._db = None
                self._opened = False
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None

    @property
    def is_empty(self) -> bool:
        return (
            self._db.execute(
                "SELECT NOT EXISTS(SELECT 1 FROM entities) AND NOT EXISTS(SELECT 1 FROM appends)"
            ).fetchone()[0]
            == 1
        )

    # -- meta ----------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- writing -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[None]:
        """``durable``: on disk when the commit returns (an acknowledgement waits for it). Otherwise the
        commit survives the sandbox's own crash (it is in the OS's cache) and reaches the disk with the
        next durable commit: for bookkeeping nobody was promised (history, positions), at a tenth of the
        cost."""
        with self.lock:
            if durable != self._durable:
                self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                self._durable = durable
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")  # on disk (synchronous=FULL) when this returns
            self._commits += 1
            if durable:  # synchronous=FULL flushed it, and every commit before it
                self._synced_upto = self._commits
            self.writes += 1

    def sync(self) -> None:
        """Make every commit so far durable, with one fsync of the write-ahead log (what a durable commit
        does): a request that made several commits pays for one flush, just before it is answered."""
        with self.lock:
            target = self._commits  # every commit up to here must be on disk when this returns
            if self._synced_upto >= target:
                return
            fd = open_private(self.directory / (DATABASE + "-wal"), os.O_RDONLY)
        try:  # outside the lock: other writers go on while the disk works
            os.fsync(fd)
        finally:
            os.close(fd)
        with self.lock:
            self._synced_upto = max(self._synced_upto, target)
            self.syncs += 1

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def put(
        self, name: str, data: bytes, replaces_appends_of: str | None = None, durable: bool = True
    ) -> None:
        """Store the latest state of ``name``; with ``replaces_appends_of``, drop that service's appends,
        which ``data`` already contains. Caller holds ``lock`` if ``data`` was read from live state."""
        with self._transaction(durable):
            seq = self._next_seq()
            self._db.execute(
                "INSERT OR REPLACE INTO entities VALUES (?, ?, ?, ?)", (name, seq, data, crc(data))
            )
            if replaces_appends_of:
                self._db.execute("DELETE FROM appends WHERE service=? AND seq<?", (replaces_appends_of, seq))

    def put_many(self, items: list[tuple[str, bytes | None]], durable: bool = True) -> None:
        """Several entities in one commit; ``None`` deletes."""
        with self._transaction(durable):
            for name, data in items:
                if data is None:
                    self._db.execute("DELETE FROM entities WHERE name=?", (name,))
                else:
                    self._db.execute(
                        "INSERT OR REPLACE INTO entities VALUES (?, ?, ?, ?)",
                        (name, self._next_seq(), data, crc(data)),
                    )

    def delete(self, name: str, durable: bool = True) -> None:
        with self._transaction(durable):
            self._db.execute("DELETE FROM entities WHERE name=?", (name,))

    def delete_prefix(self, prefix: str, durable: bool = True) -> None:
        with self._transaction(durable):
            self._db.execute("DELETE FROM entities WHERE substr(name, 1, ?)=?", (len(prefix), prefix))

    def delete_append(self, seq: int) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM appends WHERE seq=?", (seq,))

    def copy_to(self, path: Path) -> None:
        """A consistent copy of the database (SQLite's online backup), e.g. kept aside before --salvage."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(open_private(path, os.O_RDWR | os.O_CREAT | os.O_EXCL))  # 0600, as the database
        with self.lock, contextlib.closing(sqlite3.connect(path)) as target:
            self._db.backup(target)

    def append(self, service: str, data: bytes, durable: bool = True) -> None:
        with self._transaction(durable):
            self._db.execute(
                "INSERT INTO appends VALUES (?, ?, ?, ?)", (self._next_seq(), service, data, crc(data))
            )

    # -- reading -------------------------------------------------------------------------------------
    # Each reader checks a blob's checksum as it reads it. A blob that does not match is the damaged-state
    # error naming it, or, given ``damaged`` (--salvage), is reported to ``damaged(name, detail)`` and
    # left out.
    def entities(self, prefix: str = "", damaged: Damaged | None = None) -> Iterator[tuple[str, bytes]]:
        """``(name, data)`` of the entities whose name starts with ``prefix``, in the order written."""
        query = "SELECT name, data, crc FROM entities WHERE substr(name, 1, ?)=? ORDER BY seq"
        for name, data, kept in self._db.execute(query, (len(prefix), prefix)):
            if self._intact(name, data, kept, damaged):
                yield name, data

    def get(self, name: str, damaged: Damaged | None = None) -> bytes | None:
        row = self._db.execute("SELECT data, crc FROM entities WHERE name=?", (name,)).fetchone()
        return row[0] if row and self._intact(name, row[0], row[1], damaged) else None

    def appends(self, damaged: Damaged | None = None) -> Iterator[tuple[int, str, bytes]]:
        query = "SELECT seq, service, data, crc FROM appends ORDER BY seq"
        for seq, service, data, kept in self._db.execute(query):
            if self._intact(f"append/{seq}", data, kept, damaged):
                yield seq, service, data

    def _intact(self, name: str, data: bytes, kept: int | None, damaged: Damaged | None) -> bool:
        if intact(data, kept):
            return True
        if damaged is None:
            raise _damaged(self.directory, f"{name} {MISMATCH}")
        damaged(name, MISMATCH)
        return False

    @property
    def opened(self) -> bool:
        return self._opened

    def appended_services(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT DISTINCT service FROM appends")]

    def counts(self) -> dict[str, int]:
        """How many entities of each kind (the part of the name before the first ``/``), and appends."""
        counts: dict[str, int] = {}
        for kind, n in self._db.execute(
            "SELECT substr(name, 1, instr(name, '/') - 1), count(*) FROM entities GROUP BY 1"
        ):
            counts[kind] = n
        counts["appends"] = self._db.execute("SELECT count(*) FROM appends").fetchone()[0]
        return counts


STATE_FILES = (DATABASE, DATABASE + "-wal", DATABASE + "-shm", "files")  # what a state directory keeps


def set_aside(directory: str | os.PathLike, reason: str = "damaged") -> Path | None:
    """Move a state directory's database out of the way (``<dir>/<reason>-<time>/``), keeping it for the
    user: used by --salvage. Returns where it went, or None when there was nothing."""
    directory = Path(directory)
    files = [directory / name for name in STATE_FILES if (directory / name).exists()]
    if not files:
        return None
    aside = directory / f"{reason}-{time.strftime('%Y%m%dT%H%M%S')}"
    aside.mkdir(parents=True, exist_ok=True, mode=0o700)
    for f in files:
        f.rename(aside / f.name)
    return aside


def reset(directory: str | os.PathLike) -> bool:
    """Delete a state directory's state (``--fresh``, ``run_local.py reset``); True when there was one.
    Refused while a sandbox uses it."""
    import shutil

    directory = Path(directory)
    if not directory.exists():
        return False
    holder = StateStore(directory)
    holder._take_directory_lock()  # StateError when a running sandbox holds it
    try:
        found = [directory / name for name in STATE_FILES if (directory / name).exists()]
        for path in found:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return bool(found)
    finally:
        holder.close()
