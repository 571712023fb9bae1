"""The change feed's three indexes: the gallery, the invocations and every function's log lines.

Only the broadcaster changes them: it works out a pass's changes (``changes``), then applies them under
the feed's lock (``apply``), and the views read pages of them under that lock (``page``), newest first,
without listing a bucket or copying a list.
"""

from __future__ import annotations

import bisect
from collections import Counter, OrderedDict

from web import gallery as model
from web.rows import invocation_row

INVOCATIONS_KEPT = 5000  # as many attempts as the sandbox's InvocationLog keeps
LOG_EVENTS_KEPT = 20_000  # as many lines as the sandbox's log mirror keeps


def _cursor(order) -> str:
    return f"{order[0]!r}:{order[1]}"


def parse_cursor(text: str) -> tuple[float, int]:
    """``"<time>:<n>"`` -> (time, n); ValueError for anything else."""
    time_text, _, n_text = text.rpartition(":")
    return float(time_text), int(n_text)


class Invocations:
    """Every attempt, oldest first, numbered in the order first seen; counts by status."""

    def __init__(self):
        self.records: OrderedDict[str, list] = OrderedDict()  # record id -> [serial, record, status counted]
        self._serial = 0
        self.total = 0
        self.status_counts: Counter = Counter()
        self.kinds: Counter = Counter()  # (function name, trigger) of the attempts kept

    def changes(self, dirty: dict, retries: int, rows_wanted: bool):
        """(new entries, status changes, rows for a frame, serial of each changed record)."""
        rows, new_records, status_change, serials = [], [], [], {}
        for rid, record in dirty.items():
            entry = self.records.get(rid)
            if entry is None:
                self._serial += 1
                entry = [self._serial, record, None]
                new_records.append((rid, entry))
            serials[rid] = entry[0]
            status = str(record.status)
            if entry[2] != status:
                status_change.append((entry, status))
            if rows_wanted:
                rows.append(invocation_row(record, retries, entry[0]))
        return new_records, status_change, rows, serials

    def apply(self, new_records: list, status_change: list) -> None:
        for rid, entry in new_records:
            self.records[rid] = entry
            self.total += 1
            self.kinds[(entry[1].function_name, entry[1].trigger)] += 1
        for entry, status in status_change:
            if entry[2] is not None:
                self.status_counts[entry[2]] -= 1
            self.status_counts[status] += 1
            entry[2] = status
        while len(self.records) > INVOCATIONS_KEPT:
            _, (_, record, status) = self.records.popitem(last=False)
            self.status_counts[status] -= 1
            kind = (record.function_name, record.trigger)
            self.kinds[kind] -= 1
            if self.kinds[kind] <= 0:
                del self.kinds[kind]

    def page(self, before: int | None, limit: int, match=None) -> tuple[list, int | None]:
        """Up to ``limit`` (serial, record) pairs made before ``before`` (and, given ``match``, for which
        ``match(record)`` holds), newest first; the next cursor."""
        found = []
        for serial, record, _ in reversed(self.records.values()):
            if before is not None and serial >= before:
                continue
            if match is not None and not match(record):
                continue
            found.append((serial, record))
            if len(found) > limit:
                break
        more = len(found) > limit
        found = found[:limit]
        return found, found[-1][0] if more else None

    def seen(self) -> dict:
        """The functions and triggers of the attempts kept, for the table's filters."""
        functions = {function for function, _ in self.kinds}
        triggers = {trigger for _, trigger in self.kinds}
        return {"functions": sorted(f for f in functions if f), "triggers": sorted(t for t in triggers if t)}


class Gallery:
    """One item per source object, newest first; the newest record about an object decides its item."""

    def __init__(self, source_bucket: str):
        self.source_bucket = source_bucket
        # key -> item (dicts are replaced, never changed, so readers may hold them)
        self.items: dict[str, dict] = {}
        self._order: list[tuple[float, int, str]] = []  # (time, n, key), oldest first
        self._shown_serial: dict[str, int] = {}  # key -> serial of the record the item shows
        self._outputs: set[str] = set()  # the function's own outputs in the source bucket: not gallery items
        self._placed = 0

    def changes(self, dirty: dict, serials: dict, seq: int, retries: int) -> tuple[dict, list]:
        """(items to put, keys to remove) for the changed records."""
        items: dict[str, dict] = {}
        removed: list[str] = []
        for rid, record in dirty.items():
            for output in model.outputs_in(record, self.source_bucket):
                if output not in self._outputs:
                    self._outputs.add(output)
                    removed.append(output)
                    items.pop(output, None)
            key = model.s3_object_of(record, self.source_bucket)
            if key is None or key in self._outputs:
                continue
            serial = serials[rid]
            if serial < self._shown_serial.get(key, 0):
                continue  # an older upload's record changed after a newer upload of the same key
            if model.is_removal(record):
                self._shown_serial[key] = serial
                items.pop(key, None)
                removed.append(key)
                continue
            item = self._item(record, items.get(key) or self.items.get(key), seq, retries)
            if item is None:
                continue
            self._shown_serial[key] = serial
            if key in removed:
                removed.remove(key)
            items[key] = item
        return items, removed

    def _item(self, record, current: dict | None, seq: int, retries: int) -> dict | None:
        if current is None and record.trigger not in model.UPLOAD_TRIGGERS:
            return None
        upload = record.trigger in model.UPLOAD_TRIGGERS
        # an upload's event is S3's word on the object; another invocation keeps what S3 said of it
        stored = None if upload or current is None else current["source"]
        item = model.gallery_item(record, self.source_bucket, retries, stored)
        if current is not None and (not upload or current["request_id"] == record.request_id):
            item["order"] = current["order"]  # a retry or a redrive: the object keeps its place
        else:
            self._placed += 1
            item["order"] = [record.detected_at, self._placed]
        item["cursor"] = _cursor(item["order"])
        item["rev"] = seq
        return item

    def listed_changes(self, listed: list, items: dict, seq: int) -> None:
        """Objects of the listing that no record told of (records, even this pass's, come first)."""
        for obj in listed:
            key = obj["Key"]
            if key in self.items or key in items or key in self._shown_serial or key in self._outputs:
                continue
            item = model.listed_item(self.source_bucket, obj)
            modified = obj.get("LastModified")
            self._placed += 1
            item["order"] = [modified.timestamp() if modified else 0.0, self._placed]
            item["cursor"] = _cursor(item["order"])
            item["rev"] = seq
            items[key] = item

    def apply(self, items: dict, removed: list) -> None:
        for key in removed:
            self._remove_item(key)
        for key, item in items.items():
            self._put_item(key, item)

    def _put_item(self, key: str, item: dict) -> None:
        old = self.items.get(key)
        if old is not None and old["order"] != item["order"]:
            self._remove_order(old["order"], key)
        if old is None or old["order"] != item["order"]:
            bisect.insort(self._order, (item["order"][0], item["order"][1], key))
        self.items[key] = item

    def _remove_item(self, key: str) -> None:
        old = self.items.pop(key, None)
        if old is not None:
            self._remove_order(old["order"], key)

    def _remove_order(self, order, key: str) -> None:
        entry = (order[0], order[1], key)
        index = bisect.bisect_left(self._order, entry)
        if index < len(self._order) and self._order[index] == entry:
            del self._order[index]

    def page(self, before: tuple[float, int] | None, limit: int) -> tuple[list, str | None]:
        """Up to ``limit`` items older than the cursor ``before``, newest first, and the next cursor."""
        end = len(self._order) if before is None else bisect.bisect_left(self._order, (before[0], before[1]))
        start = max(0, end - limit)
        items = [self.items[key] for _, _, key in reversed(self._order[start:end])]
        return items, items[-1]["cursor"] if start > 0 and items else None


class LogLines:
    """Every log group's lines, oldest first (one sequence over all groups, as the sandbox's log mirror
    numbers them), with the streams seen."""

    def __init__(self):
        self.lines: list[dict] = []
        self.seqs: list[int] = []
        self.streams: set[str] = set()

    def new_streams(self, lines: list[dict]) -> set[str]:
        return {line["stream"] for line in lines} - self.streams

    def apply(self, lines: list[dict], new_streams: set[str]) -> None:
        for line in lines:
            self.lines.append(line)
            self.seqs.append(line["seq"])
        if len(self.lines) > 2 * LOG_EVENTS_KEPT:
            del self.lines[:-LOG_EVENTS_KEPT], self.seqs[:-LOG_EVENTS_KEPT]
        self.streams |= new_streams

    def page(self, *, before: int | None, after: int | None, match, limit: int) -> dict:
        """The newest ``limit`` lines after ``after`` (a live tail), or else the newest ``limit`` before
        ``before`` with the cursor of the page before them; oldest first."""
        last_seq = self.seqs[-1] if self.seqs else 0
        if after is not None:
            start = bisect.bisect_right(self.seqs, after)
            found = [line for line in self.lines[start:] if match(line)][-limit:]
            return {"events": found, "next_before": None, "last_seq": max(last_seq, after)}
        index = len(self.lines) if before is None else bisect.bisect_left(self.seqs, before)
        found = []
        while index > 0 and len(found) < limit:
            index -= 1
            if match(self.lines[index]):
                found.append(self.lines[index])
        more = index > 0 and any(match(line) for line in self.lines[:index])
        found.reverse()
        return {
            "events": found,
            "next_before": found[0]["seq"] if more and found else None,
            "last_seq": last_seq,
        }
