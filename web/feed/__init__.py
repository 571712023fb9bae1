"""The page's change feed: indexes of the gallery, invocations and log lines, kept up to date from the
sandbox's records and published as frames to every open page (docs/page-feed.md)."""

from web.feed.broadcaster import ChangeFeed, feed_for
from web.feed.frames import TOPICS, Frame
from web.feed.indexes import parse_cursor

__all__ = ["ChangeFeed", "Frame", "TOPICS", "feed_for", "parse_cursor"]
