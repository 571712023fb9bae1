"""EventBridge: buses delivering put events to the targets of the rules whose patterns match (source.py,
patterns.py)."""

from sandbox.event_sources.eventbridge.source import EventBridgeSource

__all__ = ["EventBridgeSource"]
