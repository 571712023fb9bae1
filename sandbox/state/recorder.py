"""The endpoint's writes, on disk before the client hears of them.

A WSGI middleware right around each moto service's app: after a successful request that changed state,
it writes what changed to the state database; ``barrier`` (the outermost layer) flushes it before the
response goes back, so an acknowledged upload or message is on disk, as S3 and SQS promise. Requests that
change a service are serialised per service, so a snapshot never catches one half-way.

How the layers fit together: docs/state-internals.md.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import threading
from collections.abc import Callable
from xml.sax.saxutils import escape

from sandbox.config import ACCOUNT_ID
from sandbox.state import moto_backends
from sandbox.state.requests import Operation, operation, recorded_request
from sandbox.state.store import StateStore
from sandbox.wsgi import call, read_body

SERVICES_WITH_APPENDS = {"logs", "cloudwatch"}
# moto answers some services from one app: API Gateway's v1 and v2 share a host, and which app a request
# reaches says little about which backend it changed. Both are written.
SHARED_APPS = {"apigateway": ("apigateway", "apigatewayv2"), "apigatewayv2": ("apigateway", "apigatewayv2")}


class StateRecorder:
    """Wraps moto's service apps (``wrap(service, app)``); ``report`` tells the terminal of a failure."""

    def __init__(self, store: StateStore, report: Callable[[str], None] = print):
        self.store = store
        self.report = report
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def lock(self, service: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(service, threading.Lock())

    def wrap(self, service: str, app):
        def persisted(environ, start_response):
            body = read_body(environ)
            op = operation(service, environ, body)
            if not op.writes:
                return app(environ, start_response)
            serialise = not (service == "s3" and not op.s3_bucket_changed)  # objects: the key's own write
            with self.lock(service) if serialise else contextlib.nullcontext():
                answer = call(app, environ)
                if answer.ok:
                    try:
                        self.record(op, environ, body)
                    except Exception as exc:  # not on disk: the client must not take it as done
                        return _state_error(start_response, service, exc, self.report)
            return answer.replay(start_response)

        return persisted

    # -- what is written -------------------------------------------------------------------------------
    def barrier(self, service: str, app):
        """The outermost layer: every commit the request made is flushed before its response leaves."""

        def flushed(environ, start_response):
            result = app(environ, start_response)
            self.store.sync()  # werkzeug sends the status and headers with the first chunk, after this
            return result

        return flushed

    def record(self, op: Operation, environ, body: bytes) -> None:
        if op.appended:
            self.store.append(op.service, pickle.dumps(recorded_request(environ, body)), durable=False)
        elif op.service == "s3":
            self._record_s3(op)
        else:
            for service in SHARED_APPS.get(op.service, (op.service,)):
                self.snapshot(service)

    def snapshot(self, service: str) -> None:
        with self.store.lock:  # read and written in one piece: a later writer writes later state
            self.store.put(
                f"moto/{service}",
                moto_backends.snapshot(service),
                replaces_appends_of=service if service in SERVICES_WITH_APPENDS else None,
                durable=False,
            )  # flushed by the barrier before the response

    def _record_s3(self, op: Operation) -> None:
        with self.store.lock:
            account_id, bucket = moto_backends.find_bucket(op.s3_bucket)
            if op.s3_keys and bucket is not None:
                self.store.put_many(
                    durable=False,
                    items=[
                        (
                            moto_backends.s3_key_entity(account_id, op.s3_bucket, key),
                            moto_backends.key_versions(bucket, key),
                        )
                        for key in op.s3_keys
                    ],
                )
            if op.s3_bucket_changed:
                if bucket is None:  # deleted (S3 deletes only empty buckets; versions may remain)
                    for account in _accounts():
                        self.store.delete_prefix(
                            moto_backends.s3_key_entity(account, op.s3_bucket, ""), durable=False
                        )
                self.store.put("moto/s3", moto_backends.snapshot("s3"), durable=False)


def _accounts() -> list[str]:
    return list(moto_backends.backend_dict("s3").keys()) or [ACCOUNT_ID]


def _state_error(start_response, service: str, exc: Exception, report) -> list[bytes]:
    message = (
        f"The sandbox could not write this change to its state directory ({type(exc).__name__}: "
        f"{exc}); it is applied in memory but would not survive a restart."
    )
    report(f"[state] {message}")
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
            f"<Message>{escape(message)}"
            f"</Message></Error>"
        ).encode()
        start_response("500 Internal Server Error", [("Content-Type", "application/xml")])
    else:
        body = json.dumps({"__type": "InternalFailure", "message": message}).encode()
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", "InternalFailure")],
        )
    return [body]
