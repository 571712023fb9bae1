"""Requests that carry an ``X-Amzn-Trace-Id`` header, told to whoever records traces.

botocore copies ``_X_AMZN_TRACE_ID`` into that header on every request a Lambda function makes (when
``AWS_LAMBDA_FUNCTION_NAME`` is set), as X-Ray's SDK calls are segments of the function's trace. Each such
request to a moto service is named here (service, operation, resource) and timed; a request without the
header passes through untouched, at the cost of one dictionary lookup.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from sandbox.endpoint.access import bucket_of

# moto's service names, as AWS's console names them.
SERVICE_NAMES = {
    "s3": "S3",
    "sqs": "SQS",
    "dynamodb": "DynamoDB",
    "dynamodbstreams": "DynamoDB Streams",
    "awslambda": "Lambda",
    "lambda": "Lambda",
    "sns": "SNS",
    "events": "EventBridge",
    "logs": "CloudWatch Logs",
    "cloudwatch": "CloudWatch",
    "apigateway": "API Gateway",
    "apigatewayv2": "API Gateway",
    "stepfunctions": "Step Functions",
    "kinesis": "Kinesis",
}
MAX_READ_BODY = 64 * 1024  # a JSON request's body is read to name its resource only when it is this small


@dataclass(frozen=True)
class TracedRequest:
    trace_header: str
    service: str  # as the console names it: "S3", "SQS"...
    operation: str  # "GetObject", "SendMessage"...
    resource: str  # "bucket/key", a queue's name, a table's...
    node: tuple[str, str] | None  # on the service map: ("bucket", name), ("queue", name)...
    status: int
    start: float
    end: float


def _s3_operation(environ) -> tuple[str, str, tuple[str, str] | None]:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = unquote(environ.get("PATH_INFO", "/"))
    bucket = bucket_of(environ)
    key = path.lstrip("/").split("/", 1)[1] if path.lstrip("/").count("/") else ""
    query = environ.get("QUERY_STRING", "")
    if key:
        if "uploadId" in query or "uploads" in query:
            operation = {
                "POST": "CompleteMultipartUpload" if "uploadId" in query else "CreateMultipartUpload"
            }
            name = operation.get(method, "UploadPart" if method == "PUT" else f"{method} multipart")
        elif method == "PUT" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
            name = "CopyObject"
        else:
            name = {
                "GET": "GetObject",
                "PUT": "PutObject",
                "HEAD": "HeadObject",
                "DELETE": "DeleteObject",
            }.get(method, f"{method} object")
    elif bucket:
        name = {"GET": "ListObjects", "HEAD": "HeadBucket", "PUT": "PutBucket", "DELETE": "DeleteBucket"}.get(
            method, "DeleteObjects" if "delete" in query else f"{method} bucket"
        )
    else:
        name = "ListBuckets"
    resource = f"{bucket}/{key}" if key else (bucket or "")
    return name, resource, ("bucket", bucket) if bucket else None


def _json_body(environ) -> dict:
    """A small JSON body, read and put back for the app."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return {}
    if not 0 < length <= MAX_READ_BODY:
        return {}
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _named_resource(data: dict) -> tuple[str, tuple[str, str] | None]:
    if data.get("QueueUrl"):
        name = str(data["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
        return name, ("queue", name)
    if data.get("TableName"):
        return str(data["TableName"]), ("table", str(data["TableName"]))
    if data.get("TopicArn"):
        name = str(data["TopicArn"]).rsplit(":", 1)[-1]
        return name, ("topic", name)
    if data.get("logGroupName"):
        return str(data["logGroupName"]), None
    if data.get("RequestItems") and isinstance(data["RequestItems"], dict):
        names = sorted(str(n) for n in data["RequestItems"])
        return ", ".join(names), ("table", names[0]) if len(names) == 1 else None
    return "", None


def describe_request(service: str, environ) -> tuple[str, str, str, tuple[str, str] | None]:
    """(service, operation, resource, map node) of a request to one of moto's services."""
    shown = SERVICE_NAMES.get(service, service)
    if service == "s3":
        return (shown, *_s3_operation(environ))
    target = environ.get("HTTP_X_AMZ_TARGET")
    path = environ.get("PATH_INFO", "")
    if service in ("awslambda", "lambda") and "/functions/" in path:
        function = unquote(path.split("/functions/", 1)[1].split("/", 1)[0]).rsplit(":", 1)[-1]
        operation = (
            "Invoke" if path.rstrip("/").endswith("/invocations") else environ.get("REQUEST_METHOD", "")
        )
        return shown, operation, function, ("function", function)
    if target:
        operation = target.rsplit(".", 1)[-1]
        resource, node = _named_resource(_json_body(environ))
        return shown, operation, resource, node
    return shown, f"{environ.get('REQUEST_METHOD', 'GET')} {path}", "", None


class TraceObserver:
    """WSGI middleware around one moto service: a request with ``X-Amzn-Trace-Id`` is timed, named and
    told to every listener (after its response is made)."""

    def __init__(self, service: str, app, listeners: list[Callable[[TracedRequest], None]]):
        self.service = service
        self.app = app
        self.listeners = listeners

    def __call__(self, environ, start_response):
        header = environ.get("HTTP_X_AMZN_TRACE_ID")
        if not header or not self.listeners:
            return self.app(environ, start_response)
        started = time.time()
        service, operation, resource, node = describe_request(self.service, environ)
        status = [0]

        def start(status_line, headers, exc_info=None):
            try:
                status[0] = int(str(status_line).split(" ", 1)[0])
            except ValueError:
                status[0] = 0
            return start_response(status_line, headers, exc_info)

        try:
            return self.app(environ, start)
        except Exception:
            status[0] = status[0] or 500
            raise
        finally:
            request = TracedRequest(
                header, service, operation, resource, node, status[0], started, time.time()
            )
            for listener in list(self.listeners):
                try:
                    listener(request)
                except Exception:
                    pass  # a trace is for looking at; it never fails the request
