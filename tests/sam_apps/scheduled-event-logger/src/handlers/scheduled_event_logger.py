"""Logs the Scheduled Event it is invoked with (the quick start's scheduled-event-logger)."""

import json


def scheduled_event_logger_handler(event, context):
    print(json.dumps(event))
    return {"detail-type": event.get("detail-type"), "time": event.get("time")}
