"""``/api/state``: the cheap "anything new?" the page polls every second, and the execution
environments of the function."""
from __future__ import annotations

import threading
import time

from flask import Blueprint, current_app, jsonify

from .. import context

bp = Blueprint("status", __name__, url_prefix="/api")

DLQ_RECHECK_S = 5.0
_dlq_lock = threading.Lock()


def dead_letter_count(records_version: int) -> int | None:
    """Messages in the function's dead-letter queue (SQS's approximate count), asked again only when an
    invocation changed or a few seconds passed."""
    cache = current_app.extensions.setdefault("sandbox_web_dlq", {"version": None, "at": 0.0, "count": None})
    with _dlq_lock:
        if cache["version"] == records_version and time.monotonic() - cache["at"] < DLQ_RECHECK_S:
            return cache["count"]
        try:
            sqs = current_app.extensions.get("sandbox_web_sqs")
            if sqs is None:
                sqs = current_app.extensions["sandbox_web_sqs"] = context.sandbox().client("sqs")
            url = sqs.get_queue_url(QueueName=context.function().dlq_name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                              "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            count = sum(int(attributes.get(name, 0)) for name in ("ApproximateNumberOfMessages",
                                                                  "ApproximateNumberOfMessagesNotVisible"))
        except Exception:  # no queue (yet), endpoint busy: the badge just stays as it was
            count = cache["count"]
        cache.update(version=records_version, at=time.monotonic(), count=count)
        return count


@bp.get("/state")
def state():
    sb = context.sandbox()
    version = sb.records.version
    records = sb.invocations()
    newest = sb.log_events(group=context.log_group(), limit=1)
    runtime = sb.runtime(context.function().function_name)
    return jsonify(
        records_version=version,
        log_seq=newest[-1].seq if newest else 0,
        invocations=len(records),
        running=sum(r.status == "running" for r in records),
        dead_lettered=sum(r.status == "dead-lettered" for r in records),
        dead_letter_count=dead_letter_count(version),
        environments=len(runtime.describe()) if runtime else 0,
        revision=context.function().revision,
        requests=sb.cost.requests,
    )


@bp.get("/environments")
def environments():
    runtime = context.sandbox().runtime(context.function().function_name)
    return jsonify(environments=runtime.describe() if runtime else [])
