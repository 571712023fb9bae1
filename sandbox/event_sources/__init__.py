"""Event sources: each turns something that happened into invocations through the Lambda service, owns
its AWS semantics (S3: asynchronous, one record per object; queues and streams: polled batches; APIs:
synchronous requests; schedules: a clock) and knows nothing of the others.

Adding one is a module with a subclass of :class:`~sandbox.event_sources.base.EventSource`, named in
``event_source_classes()`` below; docs/architecture.md lists what else a new trigger may touch.
"""

from __future__ import annotations

from sandbox.event_sources.base import EventSource, SourceContext

__all__ = ["EventSource", "SourceContext", "event_source_classes"]


def event_source_classes() -> tuple:
    from sandbox.event_sources.api_gateway import ApiGatewayEventSource
    from sandbox.event_sources.dynamodb_streams import DynamoDbStreamsEventSource
    from sandbox.event_sources.function_urls import FunctionUrlEventSource
    from sandbox.event_sources.s3.source import S3EventSource
    from sandbox.event_sources.schedules import ScheduledEventSource
    from sandbox.event_sources.sqs import SqsEventSource

    # Function URLs before API Gateway: a URL's event is payload 2.0 too, told apart by its domain.
    return (
        S3EventSource,
        SqsEventSource,
        DynamoDbStreamsEventSource,
        ScheduledEventSource,
        FunctionUrlEventSource,
        ApiGatewayEventSource,
    )
