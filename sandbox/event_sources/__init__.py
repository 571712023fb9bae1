"""Event sources: each turns something that happened into invocations through the Lambda service, owns
its AWS semantics (S3: asynchronous, one record per object; queues and streams: polled batches; APIs:
synchronous requests; schedules: a clock) and knows nothing of the others.

Adding one is a module with a subclass of :class:`~sandbox.event_sources.base.EventSource`, named in
``event_source_classes()`` below; docs/architecture.md lists what else a new trigger may touch.
"""

from __future__ import annotations

from sandbox.event_sources.base import EventSource, SourceContext

__all__ = ["SAMPLE_EVENTS", "EventSource", "SourceContext", "event_source_classes", "sample_event"]


def event_source_classes() -> tuple:
    from sandbox.event_sources.api_gateway import ApiGatewayEventSource
    from sandbox.event_sources.dynamodb_streams import DynamoDbStreamsEventSource
    from sandbox.event_sources.eventbridge import EventBridgeSource
    from sandbox.event_sources.function_urls import FunctionUrlEventSource
    from sandbox.event_sources.s3.source import S3EventSource
    from sandbox.event_sources.schedules import ScheduledEventSource
    from sandbox.event_sources.sns import SnsEventSource
    from sandbox.event_sources.sqs import SqsEventSource

    # Function URLs before API Gateway: a URL's event is payload 2.0 too, told apart by its domain.
    return (
        S3EventSource,
        SqsEventSource,
        SnsEventSource,
        DynamoDbStreamsEventSource,
        ScheduledEventSource,
        EventBridgeSource,
        FunctionUrlEventSource,
        ApiGatewayEventSource,
    )


# The complete sample events each trigger sends, as ``run_local.py generate-event KIND`` prints them (like
# ``sam local generate-event``): kind -> what it is. The page's Test tab offers the same templates.
SAMPLE_EVENTS = {
    "s3-put": "S3 Put (ObjectCreated:Put)",
    "scheduled": "EventBridge Scheduled Event",
    "sqs-receive-message": "SQS ReceiveMessage",
    "sns": "SNS notification to a Lambda subscription",
    "eventbridge": "EventBridge custom event (PutEvents to a rule's target)",
    "dynamodb-update": "DynamoDB Streams update",
    "apigateway-http-api": "API Gateway HTTP API (payload 2.0)",
    "apigateway-aws-proxy": "API Gateway REST API proxy (payload 1.0)",
    "lambda-url": "Function URL request",
}


def sample_event(
    kind: str,
    *,
    bucket: str | None = None,
    key: str = "test.jpg",
    size: int = 1024,
    region: str | None = None,
    rule: str = "my-scheduled-rule",
    queue: str = "image-resize-queue",
    body: str = "Hello from SQS!",
    method: str = "GET",
    path: str = "/items/42",
    auth_type: str = "NONE",
    table: str = "image-captions",
    event_time: str | None = None,
    topic: str = "sns-lambda",
    message: str = "Hello from SNS!",
    subject: str | None = "TestInvoke",
    source: str = "com.example.orders",
    detail_type: str = "Order Placed",
    detail: str = '{"orderId": "1234", "total": 250}',
) -> dict:
    """The sample event of ``kind`` (one of ``SAMPLE_EVENTS``); the options are generate-event's. The
    request ``body`` of an API or URL event is left out for GET and HEAD."""
    from sandbox.config import ACCOUNT_ID, DEFAULT_REGION, SOURCE_BUCKET
    from sandbox.errors import SandboxError

    region = region or DEFAULT_REGION
    request_body = body if method.upper() not in ("GET", "HEAD") else None
    if kind == "sqs-receive-message":
        from sandbox.event_sources.sqs import sample_receive_message_event

        return sample_receive_message_event(queue, body, region, ACCOUNT_ID)
    if kind == "sns":
        from sandbox.event_sources.sns.messages import sample_event as sns_event

        return sns_event(topic, message, subject, region, ACCOUNT_ID)
    if kind == "eventbridge":
        from sandbox.event_sources.eventbridge.source import sample_event as bus_event

        return bus_event(source, detail_type, detail, region, ACCOUNT_ID)
    if kind == "dynamodb-update":
        from sandbox.event_sources.dynamodb_streams import sample_update_event

        return sample_update_event(table, region, ACCOUNT_ID)
    if kind in ("apigateway-http-api", "apigateway-aws-proxy"):
        from sandbox.event_sources.api_gateway import sample_event as api_event

        return api_event(kind[len("apigateway-") :], method, path, request_body)
    if kind == "lambda-url":
        from sandbox.event_sources.function_urls import sample_event as url_event

        return url_event(method, path, request_body, auth_type)
    if kind == "scheduled":
        from sandbox.event_sources.schedules.targets import sample_scheduled_event

        return sample_scheduled_event(rule, region, ACCOUNT_ID, event_time)
    if kind == "s3-put":
        from sandbox.event_sources.s3.events import sample_put_event

        return sample_put_event(bucket or SOURCE_BUCKET, key, size, region)
    raise SandboxError(f"No sample event {kind!r}; choose one of {', '.join(SAMPLE_EVENTS)}.")
