"""What a scheduled rule sends each target: the Scheduled Event (source ``aws.events``, ``detail-type``
"Scheduled Event", ``detail`` ``{}``), or what the target's ``Input``, ``InputPath`` or
``InputTransformer`` makes of it (EventBridge's PutTargets parameters).

Scheduler's default notification is the same with ``"source": "aws.scheduler"`` and ``"detail": "{}"``.
``time`` is when the schedule was due, on the sandbox's clock.

The event in full: docs/event-sources.md.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid

from sandbox.errors import SandboxError
from sandbox.event_sources.schedules.expressions import iso

DETAIL_TYPE = "Scheduled Event"
RULES_SOURCE = "aws.events"
SCHEDULER_SOURCE = "aws.scheduler"  # EventBridge Scheduler's default notification names itself so


def scheduled_event(
    resource_arn: str, region: str, account: str, at: float, source: str = RULES_SOURCE
) -> dict:
    """EventBridge's Scheduled Event; Scheduler's default notification has the same shape, but its
    ``detail`` is the JSON text ``"{}"``, not an object (as AWS sends it)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": source,
        "account": account,
        "time": iso(at),
        "region": region,
        "resources": [resource_arn],
        "detail": "{}" if source == SCHEDULER_SOURCE else {},
    }


def target_payload(target: dict, event: dict, rule_name: str, rule_arn: str):
    """The payload EventBridge sends one target: ``Input`` (constant JSON text) replaces the event;
    ``InputPath`` (a JSONPath such as ``$.detail``) selects part of it; ``InputTransformer`` fills an
    ``InputTemplate`` with values picked by ``InputPathsMap``; none of these: the event itself."""
    if target.get("Input") is not None:
        return _json_or_text(target["Input"])
    if target.get("InputPath"):
        return json_path(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        return _transform(transformer, event, rule_name, rule_arn)
    return event


def _json_or_text(text: str):
    """AWS takes ``Input`` as JSON text; a target whose Input is not JSON (other target types allow
    plain text) gets it as a JSON string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


_PATH_PART = re.compile(r"\.(?P<name>[A-Za-z0-9_\-]+)|\[(?P<index>\d+)\]|\['(?P<quoted>[^']+)'\]")


def json_path(event, path: str):
    """The value at a simple JSONPath (``$``, ``$.detail``, ``$.resources[0]``, ``$['detail-type']``);
    None when the event has nothing there (AWS then sends null)."""
    if not path.startswith("$"):
        return None
    value, position = event, 1
    while position < len(path):
        match = _PATH_PART.match(path, position)
        if match is None:
            return None
        position = match.end()
        try:
            if match["index"] is not None:
                value = value[int(match["index"])]
            else:
                value = value[match["name"] or match["quoted"]]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _transform(transformer: dict, event: dict, rule_name: str, rule_arn: str):
    """InputTransformer: each ``<name>`` in the template becomes the value its path selects. Inside a
    JSON string a value goes in as text; elsewhere as JSON. EventBridge's own variables
    (``<aws.events.rule-name>``, ``<aws.events.rule-arn>``, ``<aws.events.event>``,
    ``<aws.events.event.json>``, ``<aws.events.event.ingestion-time>``) are there too."""
    values = {name: json_path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()}
    values.update(
        {
            "aws.events.rule-name": rule_name,
            "aws.events.rule-arn": rule_arn,
            "aws.events.event": event,
            "aws.events.event.json": event,
            "aws.events.event.ingestion-time": event.get("time"),
        }
    )
    template = transformer.get("InputTemplate", "")

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        value = values[name]
        inside_string = template[: match.start()].count('"') % 2 == 1
        if inside_string:
            text = value if isinstance(value, str) else json.dumps(value)
            return json.dumps(text)[1:-1]  # escaped for the string it stands in
        return json.dumps(value)

    return _json_or_text(re.sub(r"<([A-Za-z0-9_.\-]+)>", fill, template))


def lambda_function_name(arn: str) -> str | None:
    """``arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`` -> ``name[:qualifier]`` (a version
    or alias named runs that version); None for other ARNs."""
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return ":".join(parts[6:8])
    return None


def sqs_queue(arn: str) -> tuple[str, str] | None:
    """``arn:aws:sqs:<region>:<account>:<queue>`` -> (queue, account); None for other ARNs."""
    parts = arn.split(":")
    if len(parts) == 6 and parts[2] == "sqs":
        return parts[5], parts[4]
    return None


def sample_scheduled_event(rule: str, region: str, account: str, when: str | None = None) -> dict:
    """The event a scheduled rule sends, like ``sam local generate-event cloudwatch scheduled-event``;
    ``when``: a UTC time such as 2026-11-30T03:00:00Z (default: now)."""
    at = time.time()
    if when:
        try:
            parsed = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise SandboxError(
                f"--event-time takes a UTC time such as 2026-11-30T03:00:00Z; got {when!r}."
            ) from None
        at = (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).timestamp()
    return scheduled_event(f"arn:aws:events:{region}:{account}:rule/{rule}", region, account, at)
