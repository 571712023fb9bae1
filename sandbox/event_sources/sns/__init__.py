"""SNS: topics delivering to Lambda and SQS subscriptions, with filter policies (source.py)."""

from sandbox.event_sources.sns.source import SnsEventSource

__all__ = ["SnsEventSource"]
