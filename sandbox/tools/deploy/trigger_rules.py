"""S3's rules for a bucket's notification configuration, and the ARNs deploy reads names from."""

from __future__ import annotations

TRIGGER_EVENTS = ["s3:ObjectCreated:*"]  # the console's "PUT (All object create events)"
# Keys PutBucketNotificationConfiguration accepts (GetBucketNotificationConfiguration may return more).
NOTIFICATION_KEYS = (
    "TopicConfigurations",
    "QueueConfigurations",
    "LambdaFunctionConfigurations",
    "EventBridgeConfiguration",
)
# The kinds of destination a notification configuration can send events to.
DESTINATION_KEYS = ("LambdaFunctionConfigurations", "QueueConfigurations", "TopicConfigurations")


def function_name_of(arn: str) -> str:
    """arn:aws:lambda:us-east-1:123456789012:function:Name[:qualifier] -> Name."""
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else arn


def layer_name_of(arn: str) -> str:
    """arn:aws:lambda:us-east-1:123456789012:layer:Name:3 -> Name."""
    parts = arn.split(":")
    return parts[6] if len(parts) > 7 and parts[5] == "layer" else arn


def writable_part(configuration: dict | None) -> dict:
    """The part of GetBucketNotificationConfiguration's answer that PutBucketNotificationConfiguration
    takes."""
    return {k: v for k, v in (configuration or {}).items() if k in NOTIFICATION_KEYS}


def entries_for(configuration: dict, function_name: str) -> list[dict]:
    """The configuration's entries that invoke this function."""
    return [
        c
        for c in configuration.get("LambdaFunctionConfigurations") or []
        if function_name_of(c.get("LambdaFunctionArn", "")) == function_name
    ]


def _event_overlap(a: str, b: str) -> bool:
    """s3:ObjectCreated:* overlaps s3:ObjectCreated:Put; ObjectCreated never overlaps ObjectRemoved."""
    a_parts, b_parts = a.removeprefix("s3:").split(":"), b.removeprefix("s3:").split(":")
    for x, y in zip(a_parts, b_parts):
        if "*" in (x, y):
            return True
        if x != y:
            return False
    return True


def _filter_rules(configuration: dict) -> tuple[str, str]:
    rules = ((configuration.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    values = {r.get("Name", "").lower(): r.get("Value", "") for r in rules}
    return values.get("prefix", ""), values.get("suffix", "")


def configurations_overlap(a: dict, b: dict) -> bool:
    """S3 refuses two configurations of one bucket that share an event type and whose key filters can
    match the same key ("Configurations overlap. Configurations on the same bucket cannot share a common
    event type"). moto does not check this; deploy does, so the sandbox refuses what AWS would."""
    if not any(_event_overlap(x, y) for x in a.get("Events", []) for y in b.get("Events", [])):
        return False
    (pa, sa), (pb, sb) = _filter_rules(a), _filter_rules(b)
    prefixes = pa.startswith(pb) or pb.startswith(pa)
    suffixes = sa.endswith(sb) or sb.endswith(sa)
    return prefixes and suffixes


def destination_of(configuration: dict) -> str:
    return (
        configuration.get("LambdaFunctionArn")
        or configuration.get("QueueArn")
        or configuration.get("TopicArn")
        or "?"
    )
