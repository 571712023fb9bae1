"""The guide's five stages of one invocation attempt, saying what happened in it: event occurs -> event
detected -> Lambda invoked in an execution environment -> code runs -> response/result, each with its
duration from the attempt's own timings (sandbox/lambda_/invocation.py records them).

How the first and the last read depends on the trigger: a synchronous API call, an asynchronous S3 or
scheduled event, a batch a poller read from a queue or a stream.
"""

from __future__ import annotations

from datetime import datetime

from web.gallery import handler_results

ASYNC_TRIGGERS = {"s3", "schedule", "redrive", "eventbridge"}
POLLED_TRIGGERS = {"sqs", "dynamodb", "kinesis"}
SENDERS = {
    "s3": "S3",
    "sns": "SNS",
    "schedule": "EventBridge",
    "eventbridge": "EventBridge",
    "redrive": "The redrive",
    "apigateway": "API Gateway",
    "sqs": "Lambda's SQS poller",
    "dynamodb": "Lambda's stream poller",
    "kinesis": "Lambda's stream poller",
    "cli": "run_local.py",
    "function-url": "The function URL",
}
# What the invoker does with a successful result, by how it invoked (said when the handler names no output)
RESULT_TAKEN = {
    "async": "Nobody waits for it: {sender} has gone; Lambda records the result (and sends it to an "
    "on-success destination, if one is set).",
    "polled": "The poller takes the batch as done: {done}.",
}
POLLED_DONE = {
    "sqs": "it deletes the messages from the queue",
    "dynamodb": "it moves past these records in the stream",
    "kinesis": "it moves past these records in the stream",
}


def invocation_kind(record) -> str:
    """ "sync", "async" or "polled": how the trigger invokes the function."""
    if record.trigger in POLLED_TRIGGERS:
        return "polled"
    if record.trigger in ASYNC_TRIGGERS or record.invocation_type == "Event":
        return "async"
    return "sync"


def event_time(event) -> float | None:
    """When the event itself says it occurred, epoch seconds: S3's eventTime, EventBridge's time, SQS's
    SentTimestamp, SNS's Timestamp, API Gateway's requestTimeEpoch/timeEpoch. None when it says nothing."""
    if not isinstance(event, dict):
        return None
    records = event.get("Records")
    first = records[0] if isinstance(records, list) and records and isinstance(records[0], dict) else {}
    attributes = first.get("attributes") if isinstance(first.get("attributes"), dict) else {}
    millis = attributes.get("SentTimestamp")
    context = event.get("requestContext") if isinstance(event.get("requestContext"), dict) else {}
    millis = millis or context.get("timeEpoch") or context.get("requestTimeEpoch")
    if millis is not None:
        try:
            return int(millis) / 1000.0
        except (TypeError, ValueError):
            return None
    stamp = first.get("eventTime") if first else event.get("time")
    if isinstance(first.get("Sns"), dict):  # SNS: when the topic accepted the message
        stamp = first["Sns"].get("Timestamp")
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _span(a, b) -> float | None:
    return None if a is None or b is None else round(max(0.0, b - a) * 1000, 2)


def _written(record) -> str | None:
    """What the handler reported writing, e.g. "resized-test.jpg written, 31.2 KB, to s3://bucket"."""
    done = [e for e in handler_results(record) if isinstance(e.get("outputKey"), str)]
    if not done:
        return None
    parts = [
        f"{e['outputKey']} written"
        + (f", {e['bytes'] / 1024:.1f} KB" if isinstance(e.get("bytes"), int) else "")
        + f", to s3://{e.get('outputBucket')}"
        for e in done[:3]
    ]
    more = f" and {len(done) - 3} more" if len(done) > 3 else ""
    return "; ".join(parts) + more


def _taken(record, kind: str, sender: str) -> str:
    """What became of a successful result that wrote nothing the page can name."""
    if kind == "sync":
        code = record.result.get("statusCode") if isinstance(record.result, dict) else None
        answer = f", status {code}" if isinstance(code, int) else ""
        return f"The handler returned; {sender} got the response{answer}."
    done = POLLED_DONE.get(record.trigger, "it reads the next batch")
    return RESULT_TAKEN[kind].format(sender=sender, done=done)


def guide_stages(record, maximum_retry_attempts: int) -> list[dict]:
    """``[{"stage", "ms", "reached", "note"}]`` in the guide's order and words."""
    kind = invocation_kind(record)
    occurred = event_time(record.event)
    init_ms = record.init_duration_ms if record.cold_start else None
    # Between detection and the handler's start: queueing (and a retry's wait), then a cold start's INIT.
    waited = _span(record.detected_at, record.allocated_at)
    queued = None if waited is None else round(max(0.0, waited - (init_ms or 0.0)), 2)
    attempts = maximum_retry_attempts + 1
    sender = SENDERS.get(record.trigger, "The Lambda API")
    attempt = (
        f", attempt {record.attempt} of {attempts}"
        if kind == "async"
        else f", attempt {record.attempt}"
        if record.attempt > 1
        else ""
    )
    how = {
        "async": f"{sender} invoked it asynchronously{attempt}: nobody waits for the result",
        "sync": f"{sender} invoked it synchronously{attempt} and waited for the response",
        "polled": f"{sender} read a batch and invoked it synchronously{attempt}",
    }[kind]
    if record.cold_start:
        environment = (
            f"Cold start: new environment {record.environment_id or ''}, INIT {init_ms or 0:.0f} ms."
        )
    elif record.cold_start is False:
        environment = f"Warm: environment {record.environment_id or ''} was reused (no INIT)."
    else:
        environment = "Waiting for an execution environment."
    result = (_written(record) or _taken(record, kind, sender)) if record.status == "success" else None
    errored = f"{record.error_type or 'Error'}: {record.error_message or record.status}"
    subject = (
        record.summary
        or (record.subject or {}).get("key")
        or ("an event sent with Invoke" if record.trigger == "invoke" else f"a {record.trigger} event")
    )
    return [
        {
            "stage": "Event occurs",
            "ms": _span(occurred, record.detected_at) if occurred else None,
            "reached": True,
            "note": subject,
        },
        {
            "stage": "Event detected",
            "ms": queued,
            "reached": True,
            "note": f"{how}."
            + (f" {record.how_detected[0].upper()}{record.how_detected[1:]}." if record.how_detected else ""),
        },
        {
            "stage": "Lambda invoked in an execution environment",
            "ms": init_ms if init_ms is not None else 0.0,
            "reached": record.allocated_at is not None,
            "note": environment,
        },
        {
            "stage": "Code runs",
            "ms": _span(record.started_at, record.finished_at),
            "reached": record.started_at is not None,
            "note": (
                f"The handler ran for {record.duration_ms:.0f} ms (billed {record.billed_duration_ms} ms)."
            )
            if record.duration_ms is not None
            else "The handler is running.",
        },
        {
            "stage": "Response / result",
            "ms": _span(record.finished_at, record.responded_at),
            "reached": record.responded_at is not None,
            "note": (result or "The handler returned its result.")
            if record.status == "success"
            else errored
            if record.finished
            else "Not yet.",
        },
    ]
