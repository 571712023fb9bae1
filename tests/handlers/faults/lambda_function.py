"""Purpose-built handlers for the runtime's failure modes; the event says which one to run."""

import logging
import os
import sys
import time

logger = logging.getLogger()
logger.setLevel(logging.INFO)
_memory = []


def lambda_handler(event, context):
    action = event.get("action", "ok")
    if action == "ok":
        return {"ok": True, "pid": os.getpid()}
    if action == "raise":
        raise ValueError("boom")
    if action == "sleep":
        time.sleep(float(event.get("seconds", 10)))
        return {"slept": True}
    if action == "grow":
        for _ in range(int(event.get("mb", 400)) // 10):
            _memory.append(bytearray(10 * 1024 * 1024))
            time.sleep(0.01)
        return {"grew": True}
    if action == "exit":
        sys.exit(3)
    if action == "flood":
        for i in range(int(event.get("lines", 20000))):
            print(f"line {i} " + "x" * 80)
        return {"flooded": True}
    if action == "binary":
        sys.stdout.buffer.write(b"\xff\xfe\x00binary\x80\n")
        sys.stdout.flush()
        return {"binary": True}
    if action == "context":
        return {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
            "identity": context.identity is not None,
            "client_context": context.client_context,
            "env": {k: v for k, v in os.environ.items()},
        }
    if action == "multiline":
        logger.info("first line\nsecond line")
        return {"ok": True}
    if action == "unserializable":
        return {"value": object()}
    raise KeyError(action)
