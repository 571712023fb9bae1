"""Frames of the page's change feed: what changed, serialised once for every open page, and the ring of
recent frames a reconnecting page resumes from (EventSource's ``Last-Event-ID``)."""

from __future__ import annotations

import json
from collections import deque

# What a page can ask a stream for (``/api/feed?topics=...``): each tab's list. Every frame also carries
# the counters and the function's revision, and how many of each changed.
TOPICS = ("gallery", "invocations", "logs")
RING_FRAMES = 512  # frames kept for a page that reconnects ...
RING_BYTES = 16 * 1024 * 1024  # ... within this much memory (a burst's frames are large)


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
        """Each topic's part as the JSON members it adds to a frame:
        ``"gallery":[...],"gallery_removed":[]``."""
        return {
            topic: json.dumps(part, separators=(",", ":"), default=str)[1:-1] for topic, part in parts.items()
        }

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


class FrameRing:
    """The newest frames, up to RING_FRAMES and RING_BYTES. The feed's lock guards it."""

    def __init__(self):
        self._frames: deque[Frame] = deque(maxlen=RING_FRAMES)
        self._bytes = 0
        self._replayable_after = 0  # frames after this number are all in the ring

    def keep(self, frame: Frame) -> None:
        if len(self._frames) == self._frames.maxlen:
            self._bytes -= self._frames[0].size
        self._frames.append(frame)
        self._bytes += frame.size
        while self._bytes > RING_BYTES and len(self._frames) > 1:
            self._bytes -= self._frames.popleft().size

    def skipped(self, seq: int) -> None:
        """Frame ``seq`` was not made (nobody listened): a page that reconnects from before it reloads."""
        self._replayable_after = seq

    def can_resume(self, after: int | None, newest: int) -> bool:
        """Whether a page that had frame ``after`` can be sent every frame since, up to ``newest``."""
        oldest = self._frames[0].seq if self._frames else newest + 1
        return (
            after is not None and after <= newest and after >= self._replayable_after and after >= oldest - 1
        )

    def frames_after(self, after: int, newest: int) -> list[Frame] | None:
        """Every frame after ``after``; None when the ring no longer holds them all."""
        if newest > after and (
            after < self._replayable_after or not self._frames or self._frames[0].seq > after + 1
        ):
            return None
        return [frame for frame in self._frames if frame.seq > after]
