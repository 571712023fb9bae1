"""A bucket's NotificationConfiguration: which writes invoke which function.

The configuration lives where AWS keeps it, in S3 (``put-bucket-notification-configuration``), and is read
from the endpoint's state (never through the S3 API, where the user would see the sandbox's reads, in a
bucket's access log for one). The sandbox caches it per bucket and drops the cache whenever the S3 write
observer sees the configuration replaced, so a change applies to the very next write, as on AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.event_sources.s3.events import S3Write


@dataclass(frozen=True)
class _Target:
    configuration_id: str
    arn: str
    events: tuple[str, ...]  # "s3:ObjectCreated:*", "s3:ObjectCreated:Put", ...
    prefix: str = ""
    suffix: str = ""

    def matches(self, event_name: str, key: str) -> bool:
        """Does a write with this eventName ("ObjectCreated:Put") and decoded key fire this target?

        Event types match exactly or by wildcard ("s3:ObjectCreated:*"). Prefix and suffix filters are
        compared with the object key name, case-sensitively.
        """
        full = f"s3:{event_name}"
        family = full.rsplit(":", 1)[0] + ":*"
        if full not in self.events and family not in self.events:
            return False
        return key.startswith(self.prefix) and key.endswith(self.suffix)


@dataclass(frozen=True)
class LambdaTarget(_Target):
    """One entry of ``LambdaFunctionConfigurations``."""

    @property
    def function_arn(self) -> str:
        return self.arn

    @property
    def function_name(self) -> str:
        """The function, with the version or alias the ARN names (``name:live``): that version runs."""
        # arn:aws:lambda:us-east-1:123456789012:function:ImageResizeLambda[:qualifier]
        parts = self.arn.split(":")
        return ":".join(parts[6:8]) if len(parts) > 6 else self.arn


@dataclass(frozen=True)
class QueueTarget(_Target):
    """One entry of ``QueueConfigurations``: S3 sends the event to an SQS queue (S3 -> SQS -> Lambda)."""

    @property
    def queue_name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class TopicTarget(_Target):
    """One entry of ``TopicConfigurations``: S3 publishes the event to an SNS topic."""


def targets_from_configuration(configuration: dict) -> list[_Target]:
    """Parse a GetBucketNotificationConfiguration response: Lambda functions, SQS queues, SNS topics."""
    targets: list[_Target] = []
    entries = [
        (LambdaTarget, e, e.get("LambdaFunctionArn"))
        for e in configuration.get("LambdaFunctionConfigurations", [])
    ]
    entries += [(QueueTarget, e, e.get("QueueArn")) for e in configuration.get("QueueConfigurations", [])]
    entries += [(TopicTarget, e, e.get("TopicArn")) for e in configuration.get("TopicConfigurations", [])]
    for kind, entry, arn in entries:
        prefix = suffix = ""
        for rule in entry.get("Filter", {}).get("Key", {}).get("FilterRules", []):
            name = rule.get("Name", "").lower()
            if name == "prefix":
                prefix = rule.get("Value", "")
            elif name == "suffix":
                suffix = rule.get("Value", "")
        targets.append(
            kind(
                configuration_id=entry.get("Id", ""),
                arn=arn,
                events=tuple(entry.get("Events", [])),
                prefix=prefix,
                suffix=suffix,
            )
        )
    return targets


class BucketNotifications:
    """Which Lambda targets a write fires. ``fetch(bucket) -> dict`` reads the configuration, in the shape
    of ``get_bucket_notification_configuration``'s answer."""

    def __init__(self, fetch: Callable[[str], dict]):
        self._fetch = fetch
        self._cache: dict[str, list[LambdaTarget]] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped on every change, so a read that raced a change is not cached

    def invalidate(self, bucket: str) -> None:
        with self._lock:
            self._cache.pop(bucket, None)
            self._generation += 1

    def targets(self, bucket: str) -> list[LambdaTarget]:
        with self._lock:
            cached = self._cache.get(bucket)
            generation = self._generation
        if cached is not None:
            return cached
        try:
            targets = targets_from_configuration(self._fetch(bucket))
        except Exception:  # a bucket deleted meanwhile has no configuration
            targets = []
        with self._lock:
            if generation == self._generation:
                self._cache[bucket] = targets
        return targets

    def targets_for(self, write: S3Write) -> list[LambdaTarget]:
        return [t for t in self.targets(write.bucket) if t.matches(write.event_name, write.key)]
