"""The Test tab, as the Lambda console's: sample events of every trigger (``run_local.py generate-event``'s),
saved test events per function (web/test_events.py), and a synchronous Invoke through the sandbox's
Lambda API (``RequestResponse``, as ``aws lambda invoke`` sends it) answered with the result, the
attempt's log lines, its figures and the guide's five stages.

Saving, deleting and invoking are POSTs with the page's token (web/security.py); bodies are JSON of at
most Lambda's 6 MB synchronous payload.
"""

from __future__ import annotations

import json
import time

import boto3
from botocore.config import Config as BotoConfig
from flask import Blueprint, jsonify, request

from sandbox.config import LOCAL_CREDENTIALS
from sandbox.interface import SAMPLE_EVENTS, log_group_name, sample_event
from web import context
from web.attempt_logs import attempt_log
from web.errors import ApiError, format_bytes
from web.stages import guide_stages
from web.test_events import SavedEventError, saved_events

bp = Blueprint("test_events", __name__, url_prefix="/api/test")

MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload (request and response)
LOG_WAIT_S = 3.0  # the REPORT line is written before Invoke answers; a bound, not a pause


def _function(name: str):
    sb = context.sandbox()
    for fn in [sb.function, *sb.functions()]:
        if fn.function_name == name:
            return fn
    raise ApiError(404, f"No function {name!r} in this sandbox.")


def _json_body() -> dict:
    """The request's JSON object, refused with one sentence when too large or not JSON."""
    length = request.content_length
    if length is not None and length > MAX_EVENT_BYTES:
        raise ApiError(
            413,
            f"The request is {format_bytes(length)}; a test event may be at most "
            f"{format_bytes(MAX_EVENT_BYTES)} (Lambda's synchronous payload limit).",
        )
    data = request.stream.read(MAX_EVENT_BYTES + 1)
    if len(data) > MAX_EVENT_BYTES:
        raise ApiError(
            413, f"A test event may be at most {format_bytes(MAX_EVENT_BYTES)} (Lambda's payload limit)."
        )
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise ApiError(400, f"The request body is not valid JSON ({exc}).") from None
    if not isinstance(body, dict):
        raise ApiError(400, 'The request body must be a JSON object such as {"event": {...}}.')
    return body


def _event(body: dict):
    if "event" not in body:
        raise ApiError(400, 'Send the event as {"event": <any JSON value>}.')
    return body["event"]


@bp.get("/templates")
def templates():
    """The sample events' kinds, in generate-event's order."""
    return jsonify(templates=[{"kind": kind, "title": title} for kind, title in SAMPLE_EVENTS.items()])


@bp.get("/templates/<kind>")
def template(kind: str):
    """One sample event, for the guide's source bucket and the sandbox's region."""
    if kind not in SAMPLE_EVENTS:
        raise ApiError(404, f"No sample event {kind!r}; there are: {', '.join(SAMPLE_EVENTS)}.")
    sb = context.sandbox()
    options = {"region": sb.config.region}
    if kind == "s3-put":
        options.update(bucket=sb.config.source_bucket, key=request.args.get("key") or "test.jpg")
    return jsonify(kind=kind, event=sample_event(kind, **options))


@bp.get("/events/<function_name>")
def list_events(function_name: str):
    _function(function_name)
    store = saved_events(context.sandbox())
    return jsonify(events=store.list(function_name), persistent=store.persistent)


@bp.get("/events/<function_name>/<name>")
def get_event(function_name: str, name: str):
    _function(function_name)
    try:
        event = saved_events(context.sandbox()).get(function_name, name)
    except KeyError:
        raise ApiError(404, f"{function_name} has no saved test event {name!r}.") from None
    return jsonify(name=name, event=event)


@bp.post("/events/<function_name>")
def save_event(function_name: str):
    _function(function_name)
    body = _json_body()
    store = saved_events(context.sandbox())
    try:
        saved = store.save(function_name, body.get("name"), _event(body))
    except SavedEventError as exc:
        raise ApiError(400, str(exc)) from None
    return jsonify(saved=saved, events=store.list(function_name), persistent=store.persistent)


@bp.post("/events/<function_name>/<name>/delete")
def delete_event(function_name: str, name: str):
    _function(function_name)
    store = saved_events(context.sandbox())
    try:
        store.delete(function_name, name)
    except KeyError:
        raise ApiError(404, f"{function_name} has no saved test event {name!r}.") from None
    return jsonify(deleted=name, events=store.list(function_name), persistent=store.persistent)


@bp.post("/invoke/<function_name>")
def invoke(function_name: str):
    """Invoke (RequestResponse) through the sandbox's Lambda API, as ``aws lambda invoke`` does."""
    fn = _function(function_name)
    event = _event(_json_body())
    sb = context.sandbox()
    client = boto3.client(
        "lambda",
        endpoint_url=sb.endpoint_url,
        region_name=sb.config.region,
        # A synchronous Invoke waits for the handler: up to its timeout (and a cold start) without retry.
        config=BotoConfig(read_timeout=fn.timeout + 60, connect_timeout=5, retries={"total_max_attempts": 1}),
        **LOCAL_CREDENTIALS,
    )
    response = client.invoke(
        FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
    )
    payload = response["Payload"].read().decode("utf-8", "replace")
    request_id = response["ResponseMetadata"].get("RequestId", "")
    try:
        result = json.loads(payload)
    except ValueError:
        result = None
    failed = bool(response.get("FunctionError"))
    answer = {
        "function_name": function_name,
        "request_id": request_id,
        "status": "Failed" if failed else "Succeeded",
        "function_error": response.get("FunctionError"),
        "payload": payload,
        "result": result,
        "log_group": log_group_name(function_name),
    }
    attempts = sb.records.find(request_id) if request_id else []
    record = attempts[-1] if attempts else None
    if record is not None:
        answer.update(
            attempt=record.attempt,
            log_stream=record.log_stream,
            cold_start=record.cold_start,
            duration_ms=record.duration_ms,
            billed_duration_ms=record.billed_duration_ms,
            memory_size_mb=record.memory_size_mb,
            max_memory_used_mb=record.max_memory_used_mb,
            init_duration_ms=record.init_duration_ms if record.cold_start else None,
            guide_stages=guide_stages(record, fn.maximum_retry_attempts),
            logs=_logs(sb, record),
        )
    return jsonify(answer)


def _logs(sb, record) -> list[dict]:
    deadline = time.monotonic() + LOG_WAIT_S
    while True:
        lines = attempt_log(sb, record, sb.records.find(record.request_id))
        if any(line["platform"] == "REPORT" for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)
