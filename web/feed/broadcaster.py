"""The page's change feed: one per sandbox, shared by every open page.

Listeners note what changed (``InvocationLog.subscribe``, ``logs.subscribe``) and wake one broadcaster
thread; it brings the indexes (indexes.py) up to date and publishes one frame (frames.py) for every open
page's server-sent-events stream (``/api/feed``, views/feed.py). The design - coalescing, busy frames,
keep-alives, reconnects, the one listing of the source bucket - is explained in docs/page-feed.md.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
import weakref
from collections import Counter, OrderedDict
from contextlib import contextmanager

from sandbox.interface import log_group_name
from web.feed.frames import TOPICS, Frame, FrameRing
from web.feed.indexes import Gallery, Invocations, LogLines
from web.rows import log_event_json

FRAME_INTERVAL_S = 0.05  # with pages open: at most twenty frames a second, each carrying every change since
BUSY_FRAME_INTERVAL_S = 1.0  # ... and one while a burst goes on: every open page renders once per frame
BUSY_RECORDS = 10  # a frame about more attempts than this means a burst
QUIET_INTERVAL_S = 1.0  # with none open, the indexes are still kept up to date, once a second
HEARTBEAT_S = 15.0  # a comment on every open stream, so a stream whose page has gone ends


class ChangeFeed:
    def __init__(self, sandbox):
        try:
            self._sandbox = weakref.ref(sandbox)
        except TypeError:  # an object that cannot be weakly referenced (a test double)
            self._sandbox = lambda: sandbox
        self.source_bucket = sandbox.config.source_bucket
        function = sandbox.function
        self.log_group = log_group_name(function.function_name)  # the default function's
        # -- hand-off from the sandbox's threads to the broadcaster (a listener only notes and wakes)
        self._handoff = threading.Lock()
        self._dirty: dict[str, object] = {}  # record id -> record, in the order first changed
        self._new_logs: list = []
        self._asked: set[str] = set()  # "dead_letters", "revision": re-read on the next pass
        self._listed: list[dict] = []  # objects the one listing of the source bucket found
        self._wake = threading.Event()
        self._hurry = threading.Event()  # a reader waits: skip the coalescing pause
        self._stopping = threading.Event()
        self._takes = 0  # passes begun (changes taken from the hand-off) ...
        self._processed = 0  # ... and passes finished, so a reader can wait for what preceded it
        # -- what readers see (guarded by _lock); only the broadcaster writes
        self._lock = threading.Lock()
        self._published = threading.Condition(self._lock)
        self.seq = 0  # the newest frame's number
        # frame ids are "<epoch>.<seq>": a restarted feed never resumes old ids
        self.epoch = secrets.token_hex(4)
        self._ring = FrameRing()
        self._streams = 0
        self._topic_streams: Counter = Counter()  # open streams by topic
        self._beats = 0
        self._last_publish = 0.0
        self._busy = False  # the last frame was about many attempts (a burst): wait longer for the next
        self.listing = "pending"  # the one listing of the source bucket: pending, running, done, failed
        self._gallery = Gallery(self.source_bucket)
        self._invocations = Invocations()
        self._logs = LogLines()
        self._dead_letter_count: int | None = None
        self._dlq_asked = False  # asked SQS once: from then on only when a record or a redrive says so
        self._revision = function.revision
        self._seed(sandbox)
        self._thread = threading.Thread(target=self._run, name="page-change-feed", daemon=True)

    # -- listening ---------------------------------------------------------------------------------
    def _seed(self, sandbox) -> None:
        """Subscribe, then take what happened before: records in the order they were made, log lines."""
        sandbox.records.subscribe(self._on_record)
        sandbox.logs.subscribe(self._on_log)
        seeded = OrderedDict((record.id, record) for record in sandbox.records.all())
        lines = list(sandbox.log_events())  # every function's group
        with self._handoff:
            for rid, record in self._dirty.items():
                seeded.setdefault(rid, record)
            self._dirty = dict(seeded)
            newest = lines[-1].seq if lines else 0
            self._new_logs = lines + [e for e in self._new_logs if e.seq > newest]
        self._process(*self._take(), publish=False)

    def _on_record(self, record) -> None:
        with self._handoff:
            self._dirty[record.id] = record
        self._wake.set()

    def _on_log(self, event) -> None:
        with self._handoff:
            self._new_logs.append(event)
        self._wake.set()

    def ask(self, what: str) -> None:
        """Re-read something the records do not announce: ``dead_letters`` (after a redrive),
        ``revision`` (after a configuration change)."""
        with self._handoff:
            self._asked.add(what)
        self._wake.set()

    # -- the broadcaster -----------------------------------------------------------------------------
    def close(self) -> None:
        self._stopping.set()
        self._hurry.set()
        self._wake.set()
        with self._published:
            self._published.notify_all()

    @property
    def closed(self) -> bool:
        return self._stopping.is_set()

    def _take(self):
        with self._handoff:
            self._takes += 1
            self._wake.clear()
            dirty, self._dirty = self._dirty, {}
            logs, self._new_logs = self._new_logs, []
            asked, self._asked = self._asked, set()
            listed, self._listed = self._listed, []
        return dirty, logs, asked, listed

    def start(self) -> ChangeFeed:
        self._thread.start()
        threading.Thread(target=self._list_source_bucket, name="page-bucket-listing", daemon=True).start()
        return self

    def _run(self) -> None:
        while not self._stopping.is_set():
            # Idle: blocked here, no timeout unless a page is open (then a keep-alive every HEARTBEAT_S).
            woke = self._wake.wait(HEARTBEAT_S if self._streams else None)
            if self._stopping.is_set():
                return
            if not woke:
                self._heartbeat()
                continue
            interval = (
                QUIET_INTERVAL_S
                if not self._streams
                else BUSY_FRAME_INTERVAL_S
                if self._busy
                else FRAME_INTERVAL_S
            )
            delay = self._last_publish + interval - time.monotonic()
            if delay > 0:
                self._hurry.wait(delay)  # coalesce what else changes meanwhile, unless a reader waits
            self._hurry.clear()
            if self._stopping.is_set():
                return
            self._pass()

    def _pass(self) -> None:
        changes = self._take()
        taken = self._takes
        try:
            self._process(*changes)
        except Exception as exc:  # the page's feed must survive anything
            print(
                f"page: the change feed skipped a change it could not read ({type(exc).__name__}: {exc})",
                file=sys.stderr,
            )
        finally:
            with self._published:
                self._processed = taken
                self._published.notify_all()

    def _fresh(self, timeout: float = 2.0) -> None:
        """Before a read: let the broadcaster take in what has changed so far (read-your-writes: a page
        read right after an upload's invocation finished shows it)."""
        if not self._thread.is_alive() or threading.current_thread() is self._thread:
            return
        with self._handoff:
            if not (self._dirty or self._new_logs or self._listed or self._asked):
                return
            wanted = self._takes + 1
        self._hurry.set()
        self._wake.set()
        with self._published:
            self._published.wait_for(lambda: self._processed >= wanted or self._stopping.is_set(), timeout)

    def _heartbeat(self) -> None:
        self.ask("revision")  # a configuration changed through the Lambda API announces no record
        with self._published:
            self._beats += 1
            self._published.notify_all()

    def _process(self, dirty: dict, logs: list, asked: set, listed: list, publish: bool = True) -> None:
        sandbox = self._sandbox()
        if sandbox is None:
            self.close()
            return
        try:
            function = sandbox.function
        except Exception:  # stopping: the Lambda service is gone
            return
        retries = function.maximum_retry_attempts
        seq = self.seq + 1
        # rows go only into frames: built only while a stream asks for them
        listening = publish and self._topic_streams["invocations"] > 0
        new_records, status_change, rows, serials = self._invocations.changes(dirty, retries, listening)
        items, removed = self._gallery.changes(dirty, serials, seq, retries)
        self._gallery.listed_changes(listed, items, seq)
        lines = [log_event_json(e) for e in logs]
        new_streams = self._logs.new_streams(lines)
        # things no record announces
        dead_letters = (
            "dead_letters" in asked
            or not self._dlq_asked
            or any(status == "dead-lettered" for _, status in status_change)
            or any(entry[1].trigger == "redrive" for _, entry in new_records)
        )
        count = self._count_dead_letters(sandbox, function) if dead_letters else self._dead_letter_count
        revision = function.revision

        parts = _frame_parts(items, removed, rows, lines, new_streams)
        self._busy = len(dirty) > BUSY_RECORDS
        counts_changed = bool(new_records or status_change or count != self._dead_letter_count)
        if not parts and not counts_changed and revision == self._revision:
            return
        changes = {"gallery": len(items) + len(removed), "invocations": len(dirty), "logs": len(lines)}
        serialised = Frame.serialise(parts) if publish and self._streams else None

        with self._published:
            self._invocations.apply(new_records, status_change)
            self._gallery.apply(items, removed)
            self._logs.apply(lines, new_streams)
            self._dead_letter_count = count
            base_changed = counts_changed or revision != self._revision
            self._revision = revision
            self.seq = seq
            if serialised is None and publish and self._streams:  # a page connected meanwhile
                serialised = Frame.serialise(parts)
            if serialised is not None:
                base = {"seq": seq, "counts": self._counts(), "revision": revision, "changes": changes}
                self._ring.keep(Frame(self.epoch, seq, base, serialised, base_changed))
            else:
                self._ring.skipped(seq)  # nobody listened: a page that reconnects reloads instead
            self._last_publish = time.monotonic()
            self._published.notify_all()

    def parse_event_id(self, text: str | None) -> int | None:
        """The frame number of a ``Last-Event-ID`` this feed sent, else None."""
        epoch, _, seq = (text or "").partition(".")
        return int(seq) if epoch == self.epoch and seq.isdigit() else None

    def _counts(self) -> dict:
        counts = self._invocations.status_counts
        return {
            "invocations": self._invocations.total,
            "running": counts["running"],
            "dead_lettered": counts["dead-lettered"],
            "dead_letter_count": self._dead_letter_count,
        }

    def _count_dead_letters(self, sandbox, function) -> int | None:
        """Messages in the function's dead-letter queue (SQS's approximate counts): asked once per frame
        that needs it, for every page at once."""
        self._dlq_asked = True
        if not function.dlq_name:
            return None
        try:
            sqs = getattr(self, "_sqs", None) or sandbox.client("sqs")
            self._sqs = sqs
            url = sqs.get_queue_url(QueueName=function.dlq_name)["QueueUrl"]
            names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            return sum(int(attributes.get(name, 0)) for name in names)
        except Exception:  # no queue (yet), endpoint stopping: the badge stays as it was
            return self._dead_letter_count

    def _list_source_bucket(self) -> None:
        """Once, in its own thread: objects of the source bucket that no record tells of get a "not
        invoked" item (the broadcaster adds them, after the records it has)."""
        sandbox = self._sandbox()
        if sandbox is None:
            return
        self.listing = "running"
        found = []
        try:
            paginator = sandbox.client("s3").get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.source_bucket):
                found.extend(page.get("Contents", []))
        except Exception:  # no bucket (yet), endpoint stopping: the records alone make the gallery
            self.listing = "failed"
            return
        finally:
            del sandbox
        with self._handoff:
            self._listed.extend(found)
        self._wake.set()
        self.listing = "done"

    # -- reading (the views) -------------------------------------------------------------------------
    def gallery_page(self, before: tuple[float, int] | None = None, limit: int = 50) -> dict:
        """Up to ``limit`` items older than the cursor ``before`` (newest first), the next cursor (None at
        the end), how many items there are and the frame they reflect."""
        self._fresh()
        with self._lock:
            items, after = self._gallery.page(before, limit)
            return {
                "items": items,
                "next": after,
                "total": len(self._gallery.items),
                "seq": self.seq,
                "listing": self.listing,
            }

    def invocation_page(
        self,
        before: int | None = None,
        limit: int = 50,
        function_name: str | None = None,
        trigger: str | None = None,
    ) -> dict:
        """Up to ``limit`` attempts made before the attempt numbered ``before`` (newest first), as
        (serial, record) pairs; only those of ``function_name`` and of ``trigger`` when given."""
        match = None
        if function_name or trigger:

            def match(record) -> bool:
                return (not function_name or record.function_name == function_name) and (
                    not trigger or record.trigger == trigger
                )

        self._fresh()
        with self._lock:
            found, after = self._invocations.page(before, limit, match)
            return {
                "records": found,
                "next": after,
                "total": self._invocations.total,
                "seq": self.seq,
                **self._invocations.seen(),
            }

    def log_page(
        self,
        *,
        group: str | None = None,
        before: int | None = None,
        after: int | None = None,
        stream: str | None = None,
        contains: str | None = None,
        request_id: str | None = None,
        limit: int = 200,
    ) -> dict:
        """One log group's lines (the default function's when ``group`` is None), oldest first: the newest
        ``limit`` after ``after`` (a live tail), or else the newest ``limit`` before ``before`` with the
        cursor of the page before them."""
        needle = contains.lower() if contains else None
        group = group or self.log_group

        def match(line: dict) -> bool:
            return (
                line["group"] == group
                and (stream is None or line["stream"] == stream)
                and (request_id is None or line["request_id"] == request_id)
                and (needle is None or needle in line["message"].lower())
            )

        self._fresh()
        with self._lock:
            page = self._logs.page(before=before, after=after, match=match, limit=limit)
            return {**page, "seq": self.seq}

    def counts(self) -> dict:
        self._fresh()
        with self._lock:
            return {"seq": self.seq, **self._counts(), "revision": self._revision}

    # -- streams (views/feed.py) ---------------------------------------------------------------------
    @contextmanager
    def stream(self, topics: frozenset = frozenset(TOPICS)):
        """Held by each open ``/api/feed`` response: while any is open, frames are serialised (and
        invocation rows built while one asks for them)."""
        with self._lock:
            self._streams += 1
            self._topic_streams.update(topics)
        # The broadcaster's idle wait now needs a keep-alive timeout, and a pause it may be in (coalescing
        # for nobody, once a second) ends: the page hears of changes at once.
        self._hurry.set()
        self._wake.set()
        try:
            yield self
        finally:
            with self._lock:
                self._streams -= 1
                self._topic_streams.subtract(topics)

    def hello(self, last_event_id: str | None, topics: frozenset = frozenset(TOPICS)) -> tuple[bytes, int]:
        """The first message of a stream and the frame number it continues from. A reconnecting page sends
        the id of the last frame it had (``Last-Event-ID``): when the ring still holds every frame since,
        the stream resumes there; otherwise it starts from now and says ``reset`` (the page reloads its
        lists)."""
        after = self.parse_event_id(last_event_id)
        with self._lock:
            resumable = self._ring.can_resume(after, self.seq)
            start = after if resumable else self.seq
            data = {
                "seq": self.seq,
                "resumed": resumable,
                "reset": bool(last_event_id) and not resumable,
                "topics": sorted(topics),
                "counts": self._counts(),
                "revision": self._revision,
            }
        body = f"retry: 2000\nevent: hello\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
        return body, start

    @property
    def beats(self) -> int:
        return self._beats

    @property
    def open_streams(self) -> int:
        """How many pages' streams are open now (a browser's tabs share one)."""
        return self._streams

    def wait(self, after: int, beats: int, closing=lambda: False) -> tuple[list[Frame] | None, int]:
        """Block until there is a frame after ``after`` or a keep-alive (``beats`` moved on); returns the
        frames - none for a keep-alive - or None when the stream must end: the feed or the page's server
        is closing, or the page fell so far behind that the ring no longer holds what it missed (its
        EventSource reconnects and the page reloads)."""
        with self._published:
            while (
                self.seq <= after and self._beats == beats and not self._stopping.is_set() and not closing()
            ):
                self._published.wait()
            if self._stopping.is_set() or closing():
                return None, self._beats
            return self._ring.frames_after(after, self.seq), self._beats

    def wake_streams(self) -> None:
        with self._published:
            self._published.notify_all()


def _frame_parts(items: dict, removed: list, rows: list, lines: list, new_streams: set) -> dict:
    parts = {}
    if items or removed:
        parts["gallery"] = {"gallery": list(items.values()), "gallery_removed": removed}
    if rows:
        parts["invocations"] = {"invocations": rows}
    if lines:
        parts["logs"] = {"logs": lines, "streams": sorted(new_streams)}
    return parts


_feeds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_fallback: dict[int, ChangeFeed] = {}
_feeds_lock = threading.Lock()


def feed_for(sandbox) -> ChangeFeed:
    """The sandbox's one change feed, made and started on first use and shared by every app (and every
    page) over that sandbox; it ends when the sandbox is gone."""
    with _feeds_lock:
        try:
            feed = _feeds.get(sandbox)
        except TypeError:
            feed = _fallback.get(id(sandbox))
        if feed is None or feed.closed:
            feed = ChangeFeed(sandbox)
            try:
                _feeds[sandbox] = feed
                weakref.finalize(sandbox, feed.close)
            except TypeError:
                _fallback[id(sandbox)] = feed
            feed.start()
        return feed
