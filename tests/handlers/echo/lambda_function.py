import logging
import os

logger = logging.getLogger()
logger.setLevel(logging.INFO)
print("init: module loaded")
COUNT = 0


def lambda_handler(event, context):
    global COUNT
    COUNT += 1
    logger.info("got event with %d records", len(event.get("Records", [])))
    print("hello from print")
    return {
        "count": COUNT,
        "pid": os.getpid(),
        "remaining": context.get_remaining_time_in_millis(),
        "event": event,
        "env": {
            k: os.environ.get(k)
            for k in (
                "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_ENDPOINT_URL",
                "_X_AMZN_TRACE_ID",
                "AWS_LAMBDA_LOG_STREAM_NAME",
            )
        },
    }
