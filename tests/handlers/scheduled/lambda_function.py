"""Returns the event it got; fails when the event (a target's Input) asks it to, so retries and the
dead-letter queue can be watched."""


def lambda_handler(event, context):
    if isinstance(event, dict) and event.get("fail"):
        raise RuntimeError(f"failing on purpose: {event['fail']}")
    return {"event": event, "request_id": context.aws_request_id}
