"""The function's configuration, as the console's Configuration tab: memory, timeout, environment
variables (the handler's settings), the trigger. Saving calls the sandbox's
``update_function_configuration``, which, as on AWS, retires the warm execution environments: the
next invocation is a cold start."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from sandbox.config import MAX_MEMORY_MB, MAX_TIMEOUT_S, MIN_MEMORY_MB, MIN_TIMEOUT_S
from web import context
from web.errors import ApiError
from web.handler_settings import read_handler_settings

bp = Blueprint("configuration", __name__, url_prefix="/api/config")


def describe() -> dict:
    sb = context.sandbox()
    fn = context.function()
    runtime = sb.runtime(fn.function_name)
    return {
        "function": {
            "function_name": fn.function_name,
            "arn": fn.arn(sb.config.region),
            "runtime": fn.runtime,
            "handler": fn.handler,
            "architecture": fn.architecture,
            "memory_size": fn.memory_size,
            "timeout": fn.timeout,
            "environment": dict(fn.environment or {}),
            "maximum_retry_attempts": fn.maximum_retry_attempts,
            "dead_letter_queue": fn.dlq_name,
            "reserved_concurrency": fn.reserved_concurrency,
            "revision": fn.revision,
            "code_dir": str(fn.code_dir),
        },
        "limits": {
            "memory_min": MIN_MEMORY_MB,
            "memory_max": MAX_MEMORY_MB,
            "timeout_min": MIN_TIMEOUT_S,
            "timeout_max": MAX_TIMEOUT_S,
        },
        "handler_settings": [s.as_dict() for s in read_handler_settings(fn.code_dir, fn.handler)],
        "trigger": {
            "bucket": sb.config.source_bucket,
            "events": ["s3:ObjectCreated:*"],
            "destination_bucket": sb.config.destination_bucket,
        },
        "environments": runtime.describe() if runtime else [],
        # Memory buys CPU, as on AWS (memory / 1,769 MB of a vCPU), unless the page or --full-cpu says
        # to run at this machine's full speed.
        "cpu": sb.cpu_share(),
    }


@bp.get("")
def get_config():
    return jsonify(describe())


def _whole_number(data: dict, name: str, label: str, unit: str) -> int:
    value = data[name]
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{label} must be a whole number of {unit}; got {data[name]!r}.")
    return value


@bp.post("/cpu")
def save_cpu():
    """The page's CPU setting: {"full_cpu": true} runs every environment at this machine's full speed
    (raw local speed, shown as such); false holds each to its memory's share of a CPU, as on AWS."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("full_cpu"), bool):
        raise ApiError(400, 'Send {"full_cpu": true} or {"full_cpu": false}.')
    context.sandbox().set_full_cpu(data["full_cpu"])
    context.feed().ask("revision")  # other open pages reload their Configuration tab
    result = describe()
    result["message"] = (
        "Full CPU: every environment runs at this machine's full speed; Durations and cost "
        "are no longer AWS's."
        if data["full_cpu"]
        else "Memory buys CPU, as on AWS: each environment gets memory / 1,769 MB of a vCPU."
    )
    return jsonify(result)


@bp.post("")
def save_config():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, 'Send the configuration as a JSON object, e.g. {"memory_size": 256}.')
    unknown = set(data) - {"memory_size", "timeout", "environment"}
    if unknown:
        raise ApiError(
            400,
            f"The page can change memory_size, timeout and environment; not {', '.join(sorted(unknown))}.",
        )
    changes = {}
    if "memory_size" in data:
        changes["memory_size"] = _whole_number(data, "memory_size", "Memory", "MB")
    if "timeout" in data:
        changes["timeout"] = _whole_number(data, "timeout", "Timeout", "seconds")
    if "environment" in data:
        environment = data["environment"]
        if not isinstance(environment, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in environment.items()
        ):
            raise ApiError(400, "Environment variables must be names with text values.")
        # As in the console, a variable left empty is removed (the handler then uses its default).
        changes["environment"] = {k.strip(): v for k, v in environment.items() if k.strip() and v != ""}
    if not changes:
        raise ApiError(400, "Nothing to change: send memory_size, timeout or environment.")
    before = context.function()
    # ConfigError (a SandboxError) carries the sentence for the user; errors.py turns it into a 400.
    context.sandbox().update_function_configuration(**changes)
    context.feed().ask("revision")  # other open pages reload their Configuration tab
    after = context.function()
    result = describe()
    result["message"] = (
        f"Saved. Memory {after.memory_size} MB, timeout {after.timeout} s"
        f"{'' if after.environment == before.environment else ', environment updated'}. "
        f"Warm execution environments were retired: the next invocation is a cold start."
    )
    return jsonify(result)
