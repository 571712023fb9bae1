"""The endpoint's traced requests on their own: a request carrying X-Amzn-Trace-Id is named (service,
operation, resource, map node), timed and told with its status; any other request passes untouched."""

from __future__ import annotations

import io
import json

from sandbox.endpoint.traced_requests import TraceObserver, describe_request

HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"


def environ(method="GET", path="/", body=b"", **headers):
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    env.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return env


def test_s3_requests_are_named_as_s3s_api_with_bucket_and_decoded_key():
    assert describe_request("s3", environ("GET", "/uploads/a%20b/c.jpg")) == (
        "S3",
        "GetObject",
        "uploads/a b/c.jpg",
        ("bucket", "uploads"),
    )
    assert describe_request("s3", environ("PUT", "/out/resized-c.jpg"))[1] == "PutObject"
    assert describe_request("s3", environ("PUT", "/out/c.jpg", x_amz_copy_source="/uploads/c.jpg"))[1] == (
        "CopyObject"
    )
    assert describe_request("s3", environ("GET", "/out"))[1:3] == ("ListObjects", "out")


def test_json_requests_are_named_by_their_target_and_the_resource_in_their_body():
    body = json.dumps({"QueueUrl": "http://127.0.0.1:4566/123456789012/jobs", "MessageBody": "x"}).encode()
    env = environ("POST", "/", body, x_amz_target="AmazonSQS.SendMessage")
    assert describe_request("sqs", env) == ("SQS", "SendMessage", "jobs", ("queue", "jobs"))
    assert env["wsgi.input"].read() == body  # put back for moto
    env = environ("POST", "/", b'{"TableName": "captions"}', x_amz_target="DynamoDB_20120810.PutItem")
    assert describe_request("dynamodb", env) == ("DynamoDB", "PutItem", "captions", ("table", "captions"))
    invoke = environ(
        "POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Aresize/invocations"
    )
    assert describe_request("awslambda", invoke) == ("Lambda", "Invoke", "resize", ("function", "resize"))


def _app(status="200 OK"):
    def app(env, start_response):
        start_response(status, [])
        return [b"done"]

    return app


def test_only_requests_with_a_trace_header_are_told_with_their_status_and_timing():
    heard = []
    observer = TraceObserver("s3", _app("404 Not Found"), [heard.append])
    assert observer(environ("GET", "/b/k.jpg"), lambda *a: None) == [b"done"]
    assert heard == []
    assert observer(environ("GET", "/b/k.jpg", x_amzn_trace_id=HEADER), lambda *a: None) == [b"done"]
    [request] = heard
    assert (request.trace_header, request.operation, request.resource, request.status) == (
        HEADER,
        "GetObject",
        "b/k.jpg",
        404,
    )
    assert request.end >= request.start


def test_a_failing_listener_never_fails_the_request():
    def broken(request):
        raise RuntimeError("boom")

    observer = TraceObserver("s3", _app(), [broken])
    assert observer(environ("PUT", "/b/k", x_amzn_trace_id=HEADER), lambda *a: None) == [b"done"]
