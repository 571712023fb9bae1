"""The page's change feed: one per sandbox, shared by every open page.

The page used to ask ``/api/state`` every second and refetch whole lists when anything changed; a class
watching a burst made the sandbox several times slower. Now:

- The feed listens to the sandbox's own records (``InvocationLog.subscribe``) and log lines
  (``logs.subscribe``). A listener only notes *what* changed (O(1), in the invoking thread) and wakes
  one broadcaster thread.
- The broadcaster brings three indexes up to date from those changes - the gallery (one item per
  source object, newest first, paired by the handler's own result), the invocations (newest first) and
  the function's log lines - and publishes one *frame*: what changed, serialised once, whatever the
  number of pages. While pages are open, frames go out at most every ``FRAME_INTERVAL_S`` (changes in
  between are coalesced: an object that went pending -> running -> done is sent once, as done).
- Each open page's server-sent-events stream (``/api/feed``, views/feed.py) is a thread blocked on the
  feed's condition; a frame wakes it and it writes the frame's bytes. An extra page costs one socket write
  per frame. Nothing wakes while nothing changes, except a keep-alive comment every ``HEARTBEAT_S`` that
  lets a stream notice its page has gone.
  While a burst goes on (a frame about more than ``BUSY_RECORDS`` attempts), frames go out every
  ``BUSY_FRAME_INTERVAL_S`` instead: each one makes every open page lay out and paint again, on the same
  cores the functions need; a single upload still goes out at once.
- The views answer paged, newest-first reads (``gallery_page``, ``invocation_page``, ``log_page``) from
  the indexes, without listing a bucket or copying a list.

Objects that were in the source bucket before the feed started and have no invocation record (put there
before the trigger saw them, or older than the records the session keeps) are found by listing the
source bucket once, in the background, when the feed starts; from then on the records are the truth.
"""
from __future__ import annotations

import bisect
import json
import secrets
import sys
import threading
import time
import weakref
from collections import Counter, OrderedDict, deque
from contextlib import contextmanager

from sandbox.cloudwatch_logs import log_group_name

from . import gallery as model
from .rows import invocation_row, log_event_json

FRAME_INTERVAL_S = 0.05  # with pages open: at most twenty frames a second, each carrying every change since
BUSY_FRAME_INTERVAL_S = 1.0  # ... and one while a burst goes on: every open page renders once per frame
BUSY_RECORDS = 10  # a frame about more attempts than this means a burst
QUIET_INTERVAL_S = 1.0  # with none open, the indexes are still kept up to date, once a second
HEARTBEAT_S = 15.0  # a comment on every open stream, so a stream whose page has gone ends
RING_FRAMES = 512  # frames kept for a page that reconnects (EventSource's Last-Event-ID) ...
RING_BYTES = 16 * 1024 * 1024  # ... within this much memory (a burst's frames are large)
INVOCATIONS_KEPT = 5000  # as many attempts as the sandbox's InvocationLog keeps
LOG_EVENTS_KEPT = 20_000  # as many lines as the sandbox's log mirror keeps
# What a page can ask a stream for (``/api/feed?topics=...``): each tab's list. Every frame also carries
# the counters and the function's revision, and how many of each changed.
TOPICS = ("gallery", "invocations", "logs")


class Frame:
    """One published frame: its parts serialised once, and the bytes for each set of topics made once."""

    def __init__(self, epoch: str, seq: int, base: dict, parts: dict[str, str], base_changed: bool):
        self.seq = seq
        self._id = f"{epoch}.{seq}"
        self._base = json.dumps(base, separators=(",", ":"), default=str)[:-1]  # without its closing brace
        self._parts = parts
        self._base_changed = base_changed
        self._bytes: dict[frozenset, bytes] = {}
        self.size = len(self._base) + 2 * sum(len(part) for part in parts.values())  # with the bytes made

    @staticmethod
    def serialise(parts: dict[str, dict]) -> dict[str, str]:
        """Each topic's part as the JSON members it adds to a frame: ``"gallery":[...],"gallery_removed":[]``."""
        return {topic: json.dumps(part, separators=(",", ":"), default=str)[1:-1] for topic, part in parts.items()}

    def bytes_for(self, topics: frozenset) -> bytes:
        """The SSE message for a stream of ``topics`` (empty when nothing in it concerns that stream)."""
        data = self._bytes.get(topics)
        if data is None:
            chosen = [self._parts[topic] for topic in TOPICS if topic in topics and topic in self._parts]
            if not chosen and not self._base_changed:
                data = b""
            else:
                data = f"id: {self._id}\ndata: {','.join([self._base, *chosen])}}}\n\n".encode()
            self._bytes[topics] = data
        return data


class ChangeFeed:
    def __init__(self, sandbox):
        try:
            self._sandbox = weakref.ref(sandbox)
        except TypeError:  # an object that cannot be weakly referenced (a test double)
            self._sandbox = lambda: sandbox
        self.source_bucket = sandbox.config.source_bucket
        function = sandbox.function
        self.log_group = log_group_name(function.function_name)
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
        self.epoch = secrets.token_hex(4)  # frame ids are "<epoch>.<seq>": a restarted feed never resumes old ids
        self._ring: deque[Frame] = deque(maxlen=RING_FRAMES)
        self._ring_bytes = 0
        self._replayable_after = 0  # frames after this number are all in the ring
        self._streams = 0
        self._topic_streams: Counter = Counter()  # open streams by topic
        self._beats = 0
        self._last_publish = 0.0
        self._busy = False  # the last frame was about many attempts (a burst): wait longer for the next
        self.listing = "pending"  # the one listing of the source bucket: pending, running, done, failed
        # gallery: key -> item (dicts are replaced, never changed, so readers may hold them)
        self._items: dict[str, dict] = {}
        self._order: list[tuple[float, int, str]] = []  # (time, n, key), oldest first
        self._shown_serial: dict[str, int] = {}  # key -> serial of the record the item shows
        self._outputs: set[str] = set()  # the function's own outputs in the source bucket: not gallery items
        self._placed = 0
        # invocations: record id -> [serial, record], oldest first
        self._records: OrderedDict[str, list] = OrderedDict()
        self._serial = 0
        self._total = 0
        self._status_counts: Counter = Counter()
        self._dead_letter_count: int | None = None
        self._dlq_asked = False  # asked SQS once: from then on only when a record or a redrive says so
        self._revision = function.revision
        # logs: the function's lines, oldest first
        self._logs: list[dict] = []
        self._log_seqs: list[int] = []
        self._log_streams: set[str] = set()
        self._seed(sandbox)
        self._thread = threading.Thread(target=self._run, name="page-change-feed", daemon=True)

    # -- listening ---------------------------------------------------------------------------------
    def _seed(self, sandbox) -> None:
        """Subscribe, then take what happened before: records in the order they were made, log lines."""
        sandbox.records.subscribe(self._on_record)
        sandbox.logs.subscribe(self._on_log)
        seeded = OrderedDict((record.id, record) for record in sandbox.records.all())
        lines = list(sandbox.log_events(group=self.log_group))
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
        if event.group != self.log_group:
            return
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

    def start(self) -> "ChangeFeed":
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
            interval = QUIET_INTERVAL_S if not self._streams else BUSY_FRAME_INTERVAL_S if self._busy else FRAME_INTERVAL_S
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
            print(f"page: the change feed skipped a change it could not read ({type(exc).__name__}: {exc})",
                  file=sys.stderr)
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

        # invocations: rows for every changed attempt, counts kept by status
        rows, new_records, status_change = [], [], []
        for rid, record in dirty.items():
            entry = self._records.get(rid)
            if entry is None:
                self._serial += 1
                entry = [self._serial, record, None]
                new_records.append((rid, entry))
            status = str(record.status)
            if entry[2] != status:
                status_change.append((entry, status))
            if listening:
                rows.append(invocation_row(record, retries, entry[0]))

        # gallery: the newest record about each object decides its item
        items: dict[str, dict] = {}
        removed: list[str] = []
        serial_of = {rid: e[0] for rid, e in new_records}
        for rid, record in dirty.items():
            for output in model.outputs_in(record, self.source_bucket):
                if output not in self._outputs:
                    self._outputs.add(output)
                    removed.append(output)
                    items.pop(output, None)
            key = model.s3_object_of(record, self.source_bucket)
            if key is None or key in self._outputs:
                continue
            serial = serial_of.get(rid) or self._records[rid][0]
            if serial < self._shown_serial.get(key, 0):
                continue  # an older upload's record changed after a newer upload of the same key
            if model.is_removal(record):
                self._shown_serial[key] = serial
                items.pop(key, None)
                removed.append(key)
                continue
            current = items.get(key) or self._items.get(key)
            if current is None and record.trigger not in model.UPLOAD_TRIGGERS:
                continue
            item = model.gallery_item(record, self.source_bucket, retries)
            if current is not None and (record.trigger not in model.UPLOAD_TRIGGERS
                                        or current["request_id"] == record.request_id):
                item["order"] = current["order"]  # a retry or a redrive: the object keeps its place
            else:
                self._placed += 1
                item["order"] = [record.detected_at, self._placed]
            item["cursor"] = _cursor(item["order"])
            item["rev"] = seq
            self._shown_serial[key] = serial
            if key in removed:
                removed.remove(key)
            items[key] = item

        # objects of the listing that no record told of (records, even this pass's, come first)
        for obj in listed:
            key = obj["Key"]
            if key in self._items or key in items or key in self._shown_serial or key in self._outputs:
                continue
            item = model.listed_item(self.source_bucket, obj)
            modified = obj.get("LastModified")
            self._placed += 1
            item["order"] = [modified.timestamp() if modified else 0.0, self._placed]
            item["cursor"] = _cursor(item["order"])
            item["rev"] = seq
            items[key] = item

        # logs
        lines = [log_event_json(e) for e in logs]
        new_streams = {line["stream"] for line in lines} - self._log_streams

        # things no record announces
        dead_letters = ("dead_letters" in asked or not self._dlq_asked
                        or any(status == "dead-lettered" for _, status in status_change)
                        or any(entry[1].trigger == "redrive" for _, entry in new_records))
        count = self._count_dead_letters(sandbox, function) if dead_letters else self._dead_letter_count
        revision = function.revision

        parts = {}
        if items or removed:
            parts["gallery"] = {"gallery": list(items.values()), "gallery_removed": removed}
        if rows:
            parts["invocations"] = {"invocations": rows}
        if lines:
            parts["logs"] = {"logs": lines, "streams": sorted(new_streams)}
        self._busy = len(dirty) > BUSY_RECORDS
        counts_changed = bool(new_records or status_change or count != self._dead_letter_count)
        if not parts and not counts_changed and revision == self._revision:
            return
        changes = {"gallery": len(items) + len(removed), "invocations": len(dirty), "logs": len(lines)}
        serialised = Frame.serialise(parts) if publish and self._streams else None

        with self._published:
            for rid, entry in new_records:
                self._records[rid] = entry
                self._total += 1
            for entry, status in status_change:
                if entry[2] is not None:
                    self._status_counts[entry[2]] -= 1
                self._status_counts[status] += 1
                entry[2] = status
            while len(self._records) > INVOCATIONS_KEPT:
                _, (_, _, status) = self._records.popitem(last=False)
                self._status_counts[status] -= 1
            for key in removed:
                self._remove_item(key)
            for key, item in items.items():
                self._put_item(key, item)
            for line in lines:
                self._logs.append(line)
                self._log_seqs.append(line["seq"])
            if len(self._logs) > 2 * LOG_EVENTS_KEPT:
                del self._logs[:-LOG_EVENTS_KEPT], self._log_seqs[:-LOG_EVENTS_KEPT]
            self._log_streams |= new_streams
            self._dead_letter_count = count
            base_changed = counts_changed or revision != self._revision
            self._revision = revision
            self.seq = seq
            if serialised is None and publish and self._streams:  # a page connected meanwhile
                serialised = Frame.serialise(parts)
            if serialised is not None:
                base = {"seq": seq, "counts": self._counts(), "revision": revision, "changes": changes}
                self._keep(Frame(self.epoch, seq, base, serialised, base_changed))
            else:
                self._replayable_after = seq  # nobody listened: a page that reconnects reloads instead
            self._last_publish = time.monotonic()
            self._published.notify_all()

    def parse_event_id(self, text: str | None) -> int | None:
        """The frame number of a ``Last-Event-ID`` this feed sent, else None."""
        epoch, _, seq = (text or "").partition(".")
        return int(seq) if epoch == self.epoch and seq.isdigit() else None

    def _keep(self, frame: Frame) -> None:
        if len(self._ring) == self._ring.maxlen:
            self._ring_bytes -= self._ring[0].size
        self._ring.append(frame)
        self._ring_bytes += frame.size
        while self._ring_bytes > RING_BYTES and len(self._ring) > 1:
            self._ring_bytes -= self._ring.popleft().size

    def _put_item(self, key: str, item: dict) -> None:
        old = self._items.get(key)
        if old is not None and old["order"] != item["order"]:
            self._remove_order(old["order"], key)
        if old is None or old["order"] != item["order"]:
            bisect.insort(self._order, (item["order"][0], item["order"][1], key))
        self._items[key] = item

    def _remove_item(self, key: str) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._remove_order(old["order"], key)

    def _remove_order(self, order, key: str) -> None:
        entry = (order[0], order[1], key)
        index = bisect.bisect_left(self._order, entry)
        if index < len(self._order) and self._order[index] == entry:
            del self._order[index]

    def _counts(self) -> dict:
        return {"invocations": self._total, "running": self._status_counts["running"],
                "dead_lettered": self._status_counts["dead-lettered"], "dead_letter_count": self._dead_letter_count}

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
            end = len(self._order) if before is None else bisect.bisect_left(self._order, (before[0], before[1]))
            start = max(0, end - limit)
            items = [self._items[key] for _, _, key in reversed(self._order[start:end])]
            return {"items": items, "next": items[-1]["cursor"] if start > 0 and items else None,
                    "total": len(self._items), "seq": self.seq, "listing": self.listing}

    def invocation_page(self, before: int | None = None, limit: int = 50) -> dict:
        """Up to ``limit`` attempts made before the attempt numbered ``before`` (newest first), as
        (serial, record) pairs."""
        self._fresh()
        with self._lock:
            found = []
            for serial, record, _ in reversed(self._records.values()):
                if before is not None and serial >= before:
                    continue
                found.append((serial, record))
                if len(found) > limit:
                    break
            more = len(found) > limit
            found = found[:limit]
            return {"records": found, "next": found[-1][0] if more else None, "total": self._total,
                    "seq": self.seq}

    def log_page(self, *, before: int | None = None, after: int | None = None, stream: str | None = None,
                 contains: str | None = None, request_id: str | None = None, limit: int = 200) -> dict:
        """The function's log lines, oldest first: the newest ``limit`` after ``after`` (a live tail), or
        else the newest ``limit`` before ``before`` with the cursor of the page before them."""
        needle = contains.lower() if contains else None

        def match(line: dict) -> bool:
            return ((stream is None or line["stream"] == stream)
                    and (request_id is None or line["request_id"] == request_id)
                    and (needle is None or needle in line["message"].lower()))

        self._fresh()
        with self._lock:
            last_seq = self._log_seqs[-1] if self._log_seqs else 0
            if after is not None:
                start = bisect.bisect_right(self._log_seqs, after)
                found = [line for line in self._logs[start:] if match(line)][-limit:]
                return {"events": found, "next_before": None, "last_seq": max(last_seq, after), "seq": self.seq}
            index = len(self._logs) if before is None else bisect.bisect_left(self._log_seqs, before)
            found = []
            while index > 0 and len(found) < limit:
                index -= 1
                if match(self._logs[index]):
                    found.append(self._logs[index])
            filtered = stream is not None or request_id is not None or needle is not None
            more = index > 0 and (not filtered or any(match(line) for line in self._logs[:index]))
            found.reverse()
            return {"events": found, "next_before": found[0]["seq"] if more and found else None,
                    "last_seq": last_seq, "seq": self.seq}

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
            oldest = self._ring[0].seq if self._ring else self.seq + 1
            resumable = (after is not None and after <= self.seq and after >= self._replayable_after
                         and after >= oldest - 1)
            start = after if resumable else self.seq
            data = {"seq": self.seq, "resumed": resumable, "reset": bool(last_event_id) and not resumable,
                    "topics": sorted(topics), "counts": self._counts(), "revision": self._revision}
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
            while (self.seq <= after and self._beats == beats and not self._stopping.is_set()
                   and not closing()):
                self._published.wait()
            if self._stopping.is_set() or closing():
                return None, self._beats
            if self.seq > after and (after < self._replayable_after or not self._ring
                                     or self._ring[0].seq > after + 1):
                return None, self._beats
            return [frame for frame in self._ring if frame.seq > after], self._beats

    def wake_streams(self) -> None:
        with self._published:
            self._published.notify_all()


def _cursor(order) -> str:
    return f"{order[0]!r}:{order[1]}"


def parse_cursor(text: str) -> tuple[float, int]:
    """``"<time>:<n>"`` -> (time, n); ValueError for anything else."""
    time_text, _, n_text = text.rpartition(":")
    return float(time_text), int(n_text)


_feeds: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
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
