"""``/api/feed``: what changed, pushed to the page as it happens (server-sent events).

One stream per open page (a browser's tabs share one, through a SharedWorker: see static/web/js/feed.js).
It starts with a ``hello`` (the frame number it continues from, the counters the tabs' badges show), then
one ``message`` per frame of the sandbox's change feed (web/feed.py): the gallery items, invocation rows
and log lines that changed, already serialised once for every page. While nothing changes the stream's
thread is blocked on the feed's condition; a comment every 15 s lets it notice a page that has gone.

Like every route it passes the page's Host check and the network token (security.py), sends no CORS
header, and changes nothing. ``WebServer.stop()`` (Ctrl-C) ends every open stream at once.
"""
from __future__ import annotations

import threading

from flask import Blueprint, current_app, request

from .. import context

bp = Blueprint("feed", __name__, url_prefix="/api")

KEEP_ALIVE = b": keep-alive\n\n"


class StreamGate:
    """The open streams of one app: ``close()`` ends them (the page's server is stopping)."""

    def __init__(self):
        self._closed = threading.Event()
        self.feeds: set = set()
        self.opened = 0  # streams this app has opened, ever (a browser's tabs share one)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()
        for feed in list(self.feeds):
            feed.wake_streams()


def gate(app) -> StreamGate:
    return app.extensions.setdefault("sandbox_web_streams", StreamGate())


@bp.get("/feed")
def feed():
    hub = context.feed()
    streams = gate(current_app)
    streams.feeds.add(hub)
    streams.opened += 1
    last_event_id = request.headers.get("Last-Event-ID")

    def generate():
        with hub.stream():
            hello, after = hub.hello(last_event_id)
            beats = hub.beats
            yield hello
            while True:
                frames, now = hub.wait(after, beats, lambda: streams.closed)
                if frames is None:
                    return  # closing, or the page fell behind: its EventSource reconnects and reloads
                if frames:
                    after = frames[-1][0]
                    yield b"".join(data for _, data in frames)
                elif now != beats:
                    yield KEEP_ALIVE
                beats = now

    response = current_app.response_class(generate(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the events back
    return response
