"""Two small WSGI tools shared by the middlewares around moto's apps (the Lambda API, API Gateway's and
EventBridge's control planes, the S3 write observer, the state recorder):

- ``read_body(environ)``: the request's body, read once and put back for the app behind;
- ``call(app, environ)``: run the app and keep its whole answer, to act on it before the client hears
  of it (``answer.replay(start_response)`` then sends it as it was).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field


def read_body(environ) -> bytes:
    """The body (chunked too: werkzeug marks such input as terminated), put back as a fresh stream."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


@dataclass
class Answer:
    status: str = "500 Internal Server Error"
    headers: list = field(default_factory=list)
    body: bytes = b""

    @property
    def code(self) -> int:
        return int(self.status.split()[0]) if self.status else 500

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    def json(self) -> dict:
        try:
            found = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    def replay(self, start_response) -> list[bytes]:
        start_response(self.status, self.headers)
        return [self.body]


def call(app, environ) -> Answer:
    answer = Answer()

    def start_response(status, headers, exc_info=None):
        answer.status, answer.headers = status, list(headers)
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        answer.body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return answer
