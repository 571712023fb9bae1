"""Dead letters: events that failed every attempt, waiting in the function's SQS dead-letter queue;
redrive re-submits them as new asynchronous invocations."""

from __future__ import annotations

from urllib.parse import unquote_plus

from flask import Blueprint, jsonify, request

from web import context
from web.errors import ApiError

bp = Blueprint("dead_letters", __name__, url_prefix="/api/dead-letters")


def _key_of(event) -> str | None:
    try:
        return unquote_plus(event["Records"][0]["s3"]["object"]["key"])
    except (KeyError, IndexError, TypeError):
        return None


@bp.get("")
def list_dead_letters():
    messages = context.sandbox().dead_letters()
    for message in messages:
        message["key"] = _key_of(message.get("event"))
    return jsonify(queue=context.function().dlq_name, messages=messages)


@bp.post("/redrive")
def redrive():
    data = request.get_json(silent=True) or {}
    ids = data.get("message_ids") if isinstance(data, dict) else None
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise ApiError(400, "message_ids must be a list of message ids (or left out to redrive all).")
    if ids == []:
        raise ApiError(400, "Select at least one message to redrive.")
    records = context.sandbox().redrive(message_ids=ids)
    context.feed().ask("dead_letters")  # every open page's badge: the queue has changed
    return jsonify(
        redriven=[{"id": r.id, "request_id": r.request_id, "key": r.subject.get("key")} for r in records]
    )
