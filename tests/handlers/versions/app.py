"""Says which code, version and configuration ran: the tests publish it with CODE changed between versions."""

import os

CODE = "one"


def handler(event, context, entry="handler"):
    return {
        "code": CODE,
        "entry": entry,
        "function_version": context.function_version,
        "env_version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "invoked_function_arn": context.invoked_function_arn,
        "color": os.environ.get("COLOR"),
        "memory": context.memory_limit_in_mb,
        "log_stream": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }


def renamed(event, context):
    return handler(event, context, entry="renamed")
