"""``/api/feed``: what changed, pushed to the page as it happens (server-sent events).

One stream per open page (a browser's tabs share one, through a SharedWorker: static/web/js/feed.js):
a ``hello`` with the frame number it continues from and the counters, then one ``message`` per frame of
the change feed (web/feed/), limited to the ``topics`` the page asked for. A comment every 15 s lets an
idle stream notice a page that has gone; ``WebServer.stop()`` ends every open stream at once. Like every
route it passes the Host check and the network token (security.py) and changes nothing.
"""

from __future__ import annotations

import threading

from flask import Blueprint, current_app, request

from web import context
from web.errors import ApiError
from web.feed import TOPICS

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
    # A new EventSource (the page asked for other topics) names the last frame it had in ``last``; the
    # browser's own reconnection sends it as Last-Event-ID.
    last_event_id = request.headers.get("Last-Event-ID") or request.args.get("last")
    topics = frozenset((request.args.get("topics") or ",".join(TOPICS)).split(","))
    if not topics <= set(TOPICS):
        raise ApiError(400, f"'topics' names what the stream carries: some of {', '.join(TOPICS)}.")

    def generate():
        with hub.stream(topics):
            hello, after = hub.hello(last_event_id, topics)
            beats = hub.beats
            yield hello
            while True:
                frames, now = hub.wait(after, beats, lambda: streams.closed)
                if frames is None:
                    return  # closing, or the page fell behind: its EventSource reconnects and reloads
                data = b"".join(frame.bytes_for(topics) for frame in frames or ())
                if frames:
                    after = frames[-1].seq
                if data:
                    yield data
                elif now != beats:
                    yield KEEP_ALIVE
                beats = now

    response = current_app.response_class(generate(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the events back
    return response
