"""The conformance scenarios' handler in Python (index.mjs beside it is the same in JavaScript)."""

import time

_kept = []


def handler(event, context):
    action = event.get("action")
    if action == "echo":
        print(f"echo {event.get('value')}")
        return {
            "value": event.get("value"),
            "requestId": context.aws_request_id,
            "functionName": context.function_name,
            "memory": context.memory_limit_in_mb,
            "remainingPositive": context.get_remaining_time_in_millis() > 0,
        }
    if action == "raise":
        raise ValueError("boom")
    if action == "sleep":
        time.sleep(event["seconds"])
        return "slept"
    if action == "allocate":
        _kept.append(bytearray(event["mb"] * 1024 * 1024))
        return "allocated"
    if action == "large":
        return "x" * event["bytes"]
    if action == "client_context":
        return context.client_context
    return None
