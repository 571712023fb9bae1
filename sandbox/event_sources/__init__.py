"""Event sources: each turns something that happened into invocations through the Lambda service, owns
its AWS semantics (S3: asynchronous, one record per object; later streams, queues, APIs, schedules) and
knows nothing of the others.

Adding one is adding a module with a class like ``s3.S3EventSource`` and naming it in ``EVENT_SOURCES``:

- ``__init__(context: SourceContext)``: built before the endpoint starts;
- ``service_middleware() -> {moto service name: wrap(app) -> app}``: hooks on the endpoint, if any;
- ``start(service)`` / ``stop()``: ``service`` is the :class:`sandbox.lambda_service.LambdaService`;
- ``describe(event) -> (source, summary, subject) | None``: what one of its events is about, for records
  of events invoked directly (``aws lambda invoke``, redrive);
- optionally ``routes() -> {path prefix: wsgi app}`` and ``host_routes() -> [(host suffix, wsgi app)]``:
  URLs AWS serves to anyone (API Gateway's execute-api, function URLs), mounted on the endpoint as public
  routes.
"""
from __future__ import annotations

from ..source_context import SourceContext

__all__ = ["SourceContext", "event_source_classes"]


def event_source_classes() -> tuple:
    from .api_gateway import ApiGatewayEventSource
    from .dynamodb_streams import DynamoDbStreamsEventSource
    from .function_urls import FunctionUrlEventSource
    from .s3 import S3EventSource
    from .schedules import ScheduledEventSource
    from .sqs import SqsEventSource

    # Function URLs before API Gateway: a URL's event is payload 2.0 too, told apart by its domain.
    return (S3EventSource, SqsEventSource, DynamoDbStreamsEventSource, ScheduledEventSource,
            FunctionUrlEventSource, ApiGatewayEventSource)
