"""A sandbox's state directory: what is written while it runs, and what a start restores.

Written while running, each before its acknowledgement (recorder.py): moto's services, the Lambda
service's registry, every invocation attempt, event sources' positions. Restored on start, before
anything is served or run: moto's state, the Lambda registry, the history; then the mappings are applied
again and unfinished asynchronous events delivered again (at least once, as AWS promises). A state that
cannot be read whole is not restored at all.

What is kept and the order of a restore: docs/state-internals.md.
"""

from __future__ import annotations

import json
import pickle
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sandbox.lambda_.invocation import InvocationRecord
from sandbox.state import moto_backends
from sandbox.state.recorder import StateRecorder
from sandbox.state.requests import operation
from sandbox.state.store import MISMATCH, StateError, StateRefused, StateStore, intact, reset, set_aside
from sandbox.wsgi import call

KEEP_RECORDS = 5000  # as InvocationLog keeps in memory


class Persistence:
    def __init__(
        self,
        directory: str | Path,
        *,
        fresh: bool = False,
        salvage: bool = False,
        report: Callable[[str], None] = print,
    ):
        self.directory = Path(directory).expanduser().resolve()
        self.fresh = fresh
        self.salvage = salvage
        self.report = report
        self.store = StateStore(self.directory)
        self.recorder = StateRecorder(self.store, report)
        self.restored: dict[str, int] = {}  # what a start found: kind -> count (empty: a new state)
        self.skipped: list[str] = []  # --salvage: what could not be read
        self._written_pending: set[str] = set()  # attempts written while not final (a final one is let go)
        self._records_lock = threading.Lock()

    @property
    def files_dir(self) -> Path:
        """Where functions' and layers' code is unpacked: kept with the state."""
        return self.directory / "files"

    # -- opening ---------------------------------------------------------------------------------------
    def open(self) -> Persistence:
        if self.fresh and reset(self.directory):
            self.report(f"[state] --fresh: the state kept in {self.directory} was deleted.")
        try:
            self.store.open()
        except StateRefused:
            raise
        except StateError:
            if not self.salvage:
                raise
            aside = set_aside(self.directory, "damaged")  # kept for the user; salvage reads the copy
            self.report(f"[state] The damaged state is kept in {aside}; restoring what can be read from it.")
            self._salvage_from(aside)
            return self
        if self.salvage and not self.store.is_empty:  # readable, but parts may not load: keep it all first
            aside = self.directory / f"damaged-{time.strftime('%Y%m%dT%H%M%S')}"
            self.store.copy_to(aside / "state.sqlite3")
            self.report(f"[state] --salvage: the state as it was is kept in {aside}.")
        self.files_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self

    def close(self) -> None:
        """A clean stop folds the logs' and metrics' appended requests into snapshots, so the next start
        replays none."""
        try:
            if self.store.opened:
                for service in self.store.appended_services():
                    self.recorder.snapshot(service)
        except Exception as exc:  # the appends stay; the next start replays them
            self.report(f"[state] Could not fold the logs into one snapshot: {exc}")
        self.store.close()

    # -- the endpoint --------------------------------------------------------------------------------
    def install(self, sandbox) -> None:
        """Hook into the sandbox's endpoint: the recorder right around moto, the registry's writer around
        everything on Lambda's API (so it sees what the sandbox made of a change)."""
        sandbox.endpoint.wrap_every_service(self.recorder.wrap)
        sandbox.endpoint.wrap_every_service(self.recorder.barrier, outermost=True)
        sandbox.endpoint.before_serving(self.restore_endpoint)
        # Outermost on Lambda's API: after the sandbox has acted on a change (a function registered, its
        # code unpacked), its registry is written, still before the client hears of it.
        sandbox.endpoint.add_service_middleware(
            "awslambda",
            lambda app: _AfterWrites(app, lambda: self.save_functions(sandbox.service)),
            outermost=True,
        )

    def restore_endpoint(self) -> None:
        """moto's state (called by the endpoint after its reset, before it serves a request)."""
        if self.store.is_empty:
            return
        key_stores: dict[tuple, object] = {}
        counts: dict[str, int] = {}
        for name, data in self.store.entities("moto/", self._damaged):
            service = name.split("/", 1)[1]
            self._load(
                name, lambda service=service, data=data: moto_backends.load_service(service, data, key_stores)
            )
            counts["services"] = counts.get("services", 0) + 1  # moto's: S3, Lambda, SQS...
        for name, data in self.store.entities("s3key/", self._damaged):
            _, account_id, rest = name.split("/", 2)
            bucket, key = rest.split("/", 1)
            if (
                self._load(
                    name,
                    lambda account_id=account_id, bucket=bucket, key=key, data=data: moto_backends.load_key(
                        key_stores, account_id, bucket, key, data
                    ),
                )
                is False
            ):
                self._problem(name, "its bucket is not in the state")
            counts["objects"] = counts.get("objects", 0) + 1
        replayed = set()
        for seq, service, data in self.store.appends(self._damaged):
            status = self._load(
                f"append/{seq}",
                lambda service=service, data=data: moto_backends.replay(service, pickle.loads(data)),
            )
            if isinstance(status, int) and status >= 400:
                self._problem(f"append/{seq}", f"{service} answered {status} when it was replayed")
            counts["log and metric batches"] = counts.get("log and metric batches", 0) + 1
            replayed.add(service)
        for service in replayed:
            self.recorder.snapshot(service)  # folded into one snapshot: the next start replays nothing
        self.restored.update(counts)

    @property
    def _damaged(self):
        """What the store does with an entry whose bytes do not match their checksum: --salvage leaves it
        out (named in ``skipped``); otherwise (None) the store refuses the whole state."""
        return self._problem if self.salvage else None

    def _load(self, name: str, load):
        try:
            return load()
        except StateError:
            raise
        except Exception as exc:
            self._problem(name, f"{type(exc).__name__}: {exc}")
            return None

    def _problem(self, name: str, detail: str) -> None:
        if self.salvage:  # left out, and dropped from the state, so the next start needs no --salvage
            self.skipped.append(f"{name} ({detail})")
            if name.startswith("append/"):
                self.store.delete_append(int(name.split("/", 1)[1]))
            else:
                self.store.delete(name)
            return
        raise StateError(
            f"The state directory {self.directory} cannot be restored: {name} could not be read ({detail}); "
            f"nothing was restored. Start with --salvage to restore what can be read (the state is kept "
            f"aside first), or --fresh to begin empty (this deletes it)."
        )

    # -- the sandbox's own state ---------------------------------------------------------------------
    def attach(self, sandbox) -> None:
        """Write what the sandbox itself holds as it changes."""
        sandbox.records.subscribe(self._record_changed)

    def _record_changed(self, record) -> None:
        with self._records_lock:
            if not record.final:
                if record.id in self._written_pending:
                    return  # running, throttled...: written again when final
                self._written_pending.add(record.id)
            else:
                self._written_pending.discard(record.id)
        # Durable only when the record is what acknowledged an event: an asynchronous Invoke's 202 (an
        # S3 event was kept on disk before its upload's 200; a poller's batch stays in its queue or stream).
        durable = (
            not record.final
            and record.invocation_type == "Event"
            and record.trigger not in ("s3", "schedule")
        )
        try:
            self.store.put(f"record/{record.id}", pickle.dumps(record), durable=durable)
        except Exception as exc:  # the page's history only: the run goes on
            self.report(f"[state] Could not write invocation {record.id}: {exc}")

    def save_functions(self, service) -> None:
        """The Lambda service's registry (after a change made through the Lambda API)."""
        self.store.put("lambda/registry", pickle.dumps(service.registry()))

    def restore_sandbox(self, sandbox, accounting) -> None:
        """The Lambda registry and the history (after the Lambda service is built, before sources start);
        restored attempts are billed again in the session's cost (``accounting``), not counted again in
        the metrics, which are restored with CloudWatch (and kept again for the page)."""
        data = self.store.get("lambda/registry", self._damaged)
        if data is not None:
            self._load("lambda/registry", lambda: sandbox.service.restore_registry(_loads(data, dict)))
            self.restored["functions"] = len(sandbox.service.functions())
        records = []
        for name, blob in self.store.entities("record/", self._damaged):
            record = self._load(name, lambda blob=blob: _loads(blob, InvocationRecord))
            if record is not None:
                records.append(record)
        records.sort(key=lambda r: (r.detected_at, r.attempt))
        old = records[:-KEEP_RECORDS]
        for record in old:
            self.store.delete(f"record/{record.id}")
        for record in records[-KEEP_RECORDS:]:
            if not record.final:
                self._written_pending.add(record.id)
            sandbox.records.restore(record)
            accounting.bill(record)
        if records:
            self.restored["invocations"] = len(records) - len(old)
        if self.restored:
            sandbox.logs.restore(_function_log_events(sandbox.shared_client("logs")))
            sandbox.metrics.restore(moto_backends.lambda_metric_datapoints(sandbox.config.region))
        self.attach(sandbox)

    def resume(self, sandbox) -> list:
        """After the event sources run: mappings applied again; unfinished asynchronous events delivered
        again (at least once). Returns the re-submitted records."""
        client = sandbox.shared_client("lambda")
        for page in client.get_paginator("list_event_source_mappings").paginate():
            for mapping in page.get("EventSourceMappings", []):
                sandbox.service.mapping_changed(mapping)
        return sandbox.service.resume_unfinished()

    # -- event sources' small state (positions) ------------------------------------------------------
    def save(self, name: str, value, durable: bool = True) -> None:
        """``durable=False`` for bookkeeping nobody was promised (a checkpoint: a lost one redelivers)."""
        self.store.put(f"source/{name}", json.dumps(value).encode(), durable=durable)

    def load(self, name: str):
        data = self.store.get(f"source/{name}", self._damaged)
        return None if data is None else self._load(f"source/{name}", lambda: json.loads(data))

    def forget(self, *names: str) -> None:
        """Drop what was saved (one commit for all); lost in a machine crash: done again, at least once."""
        self.store.put_many([(f"source/{name}", None) for name in names], durable=False)

    def saved(self, prefix: str) -> list[tuple[str, object]]:
        """``(name, value)`` of what was saved under ``prefix``, in the order saved."""
        found = [
            (name, self._load(name, lambda data=data: json.loads(data)))
            for name, data in list(self.store.entities(f"source/{prefix}", self._damaged))
        ]
        return [(name[len("source/") :], value) for name, value in found if value is not None]

    def describe(self) -> str:
        """The banner's line."""
        if not self.restored:
            return f"{self.directory} (new)"
        parts = ", ".join(f"{n:,} {kind}" for kind, n in self.restored.items() if n)
        return f"{self.directory} (restored: {parts})"

    # -- --salvage -------------------------------------------------------------------------------------
    def _salvage_from(self, aside: Path) -> None:
        """Copy what SQLite can still read of a damaged database into a new one."""
        import sqlite3

        self.store.open()
        self.files_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if (aside / "files").is_dir():
            shutil.copytree(aside / "files", self.files_dir, dirs_exist_ok=True)
        try:
            old = sqlite3.connect(f"file:{aside / 'state.sqlite3'}?mode=ro", uri=True)
            crc = _crc_column(old, "entities")
            rows = old.execute(f"SELECT name, data, {crc} FROM entities ORDER BY seq")
            while True:
                try:
                    row = rows.fetchone()
                except sqlite3.DatabaseError as exc:
                    self.skipped.append(f"the rest of the entities ({exc})")
                    break
                if row is None:
                    break
                if intact(row[1], row[2]):  # copied with a new checksum: a damaged one must not be
                    self.store.put(row[0], row[1], durable=False)
                else:
                    self.skipped.append(f"{row[0]} ({MISMATCH})")
            try:
                crc = _crc_column(old, "appends")
                for seq, service, data, kept in old.execute(
                    f"SELECT seq, service, data, {crc} FROM appends ORDER BY seq"
                ):
                    if intact(data, kept):
                        self.store.append(service, data, durable=False)
                    else:
                        self.skipped.append(f"append/{seq} ({MISMATCH})")
            except sqlite3.DatabaseError as exc:
                self.skipped.append(f"the rest of the logs and metrics ({exc})")
            old.close()
        except sqlite3.DatabaseError as exc:
            self.skipped.append(f"everything in the database ({exc})")
        self.store.sync()  # what was copied is on disk before anything runs


def _crc_column(db, table: str) -> str:
    """``crc``, or ``NULL`` in a table written before checksums (format 1)."""
    return "crc" if "crc" in {row[1] for row in db.execute(f"PRAGMA table_info({table})")} else "NULL"


def _loads(data: bytes, kind: type):
    """A pickle of the state that must be a ``kind`` (anything else is a damaged or planted state)."""
    found = pickle.loads(data)
    if not isinstance(found, kind):
        raise TypeError(f"found {type(found).__name__} where {kind.__name__} was kept")
    return found


def _function_log_events(client):
    """Every event of the ``/aws/lambda/`` log groups, oldest first, as CloudWatchLogs.restore takes them."""
    events = []
    for page in client.get_paginator("describe_log_groups").paginate(logGroupNamePrefix="/aws/lambda/"):
        for group in page.get("logGroups", []):
            name = group["logGroupName"]
            for found in client.get_paginator("filter_log_events").paginate(logGroupName=name):
                events += [
                    (name, e["logStreamName"], e["timestamp"], e["message"]) for e in found.get("events", [])
                ]
    events.sort(key=lambda e: e[2])  # stable: lines of one millisecond keep their order
    return events


class _AfterWrites:
    """Calls ``after()`` once a request that changed something has succeeded, before its response leaves."""

    def __init__(self, app, after: Callable[[], None]):
        self.app, self.after = app, after

    def __call__(self, environ, start_response):
        if not operation("awslambda", environ, b"").writes:  # REST: the method and path tell
            return self.app(environ, start_response)
        answer = call(self.app, environ)
        if answer.ok:
            self.after()
        return answer.replay(start_response)
