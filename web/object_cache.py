"""Recently served small objects (the gallery's thumbnails), kept in memory by (bucket, key, version).

Every open page shows the same new thumbnails at about the same time; each one is read from S3 once and
served to the others from here. Only URLs that name a version are cached - the source's ETag, or the
invocation that wrote an output - so a new upload or a new invocation is a new URL, never a stale hit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

MAX_BYTES = 32 * 1024 * 1024
MAX_OBJECT_BYTES = 1024 * 1024  # larger objects (a full-size source in the pair dialog) are streamed


@dataclass(frozen=True)
class CachedObject:
    body: bytes
    content_type: str
    etag: str


class ObjectCache:
    def __init__(self, max_bytes: int = MAX_BYTES, max_object_bytes: int = MAX_OBJECT_BYTES):
        self.max_bytes = max_bytes
        self.max_object_bytes = max_object_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, CachedObject] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple) -> CachedObject | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: CachedObject) -> None:
        if len(entry.body) > self.max_object_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._entries[key] = entry
            self._bytes += len(entry.body)
            while self._bytes > self.max_bytes and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped.body)
