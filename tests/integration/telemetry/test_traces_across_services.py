"""One event's path across services, recorded by a running sandbox over HTTP: the handler's SDK calls
under its invocation's trace id (botocore sends _X_AMZN_TRACE_ID as X-Amzn-Trace-Id), S3 -> Lambda,
S3 -> SQS -> Lambda with the queue hop and AWSTraceHeader, API Gateway's synchronous request continuing
the client's trace, a DynamoDB stream's batch and checkpoint; the page's read-only routes for them, and
their local-only rules."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from helpers.page import local_app
from helpers.paths import SAMPLES
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, wait_for_record
from sandbox.guide.example_setups import set_up

QUEUED_BUCKET, QUEUE, QUEUE_FUNCTION = (
    "queued-image-bucket123",
    "image-resize-queue",
    "ImageResizeQueueLambda",
)
API_FUNCTION, TABLE, STREAM_FUNCTION = "ImagesApiLambda", "image-captions", "ImageCaptionsLambda"
X_RAY_HEADER = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;Lineage=")


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    set_up(sandbox, ["queue", "api", "stream"])
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def client(sb):
    return local_app(sb).test_client()


def hops_of(sb, record) -> list[dict]:
    return sb.traces.trace(sb.traces.root_of(record.request_id)) or []


def operations(hops) -> list[tuple[str, str]]:
    return [(h["service"], h["operation"]) for h in hops]


def test_an_uploads_path_runs_from_the_put_through_the_handlers_sdk_calls_to_report(sb, client):
    sb.s3.upload_file(str(SAMPLES / "test.jpg"), sb.config.source_bucket, "path one.jpg")
    record = sb.wait_for_key("path one.jpg", timeout=60)
    assert record.status == "success" and X_RAY_HEADER.match(record.trace_id)
    hops = hops_of(sb, record)
    assert operations(hops) == [
        ("S3", "PutObject"),
        ("S3", "notification"),
        ("Lambda", "async queue"),
        ("Lambda", "environment"),
        ("Lambda", "handler"),
        ("S3", "GetObject"),
        ("S3", "PutObject"),
        ("Lambda", "REPORT"),
    ]
    get, put = hops[5], hops[6]
    assert (get["resource"], get["caller"], get["request_id"], get["outcome"]) == (
        f"{sb.config.source_bucket}/path one.jpg",
        record.function_name,
        record.request_id,
        "200",
    )
    assert put["resource"] == f"{sb.config.destination_bucket}/resized-path one.jpg"
    handler = hops[4]
    assert handler["start"] <= get["start"] <= put["end"] <= handler["end"]  # inside the handler
    environment = hops[3]["detail"]
    assert environment.startswith("cold, INIT ") if record.cold_start else environment.startswith("warm")

    sb.s3.upload_file(str(SAMPLES / "test.jpg"), sb.config.source_bucket, "path two.jpg")
    second = sb.wait_for_key("path two.jpg", timeout=60)
    assert sb.traces.root_of(second.request_id) != sb.traces.root_of(record.request_id)  # one trace each

    page = client.get(f"/api/traces/invocations/{record.request_id}/1").get_json()
    assert page["trace_id"] == sb.traces.root_of(record.request_id) and page["note"] is None
    assert [(h["service"], h["operation"]) for h in page["hops"]] == operations(hops)
    graph = client.get("/api/traces/map").get_json()
    edges = {(e["from"], e["to"]): e for e in graph["edges"]}
    uploads = edges[(f"bucket:{sb.config.source_bucket}", f"function:{record.function_name}")]
    assert uploads["count"] >= 2 and uploads["operations"]["Invoke (async)"] >= 2
    reads = edges[(f"function:{record.function_name}", f"bucket:{sb.config.source_bucket}")]
    assert reads["operations"]["GetObject"] >= 2


def test_an_upload_through_a_queue_keeps_its_trace_across_the_queue_hop(sb):
    sb.s3.put_object(Bucket=QUEUED_BUCKET, Key="queued path.jpg", Body=(SAMPLES / "test.jpg").read_bytes())
    record = wait_for_record(
        sb,
        lambda r: r.function_name == QUEUE_FUNCTION and r.final and "queued+path.jpg" in str(r.event),
        what="the queued upload's invocation",
    )
    [message] = record.event["Records"]
    # An untraced upload's message carries no AWSTraceHeader (as S3 sends it on AWS); the sandbox links
    # the message to the upload's trace itself, and the poller continues that trace.
    assert "AWSTraceHeader" not in message["attributes"]
    root = sb.traces.root_of(record.request_id)
    assert (
        record.trace_id.startswith(f"Root={root};") and sb.traces.message_root(message["md5OfBody"]) == root
    )
    eventually(
        lambda: ("SQS", "DeleteMessageBatch") in operations(hops_of(sb, record)),
        what="the batch's deletion on its trace",
    )
    hops = hops_of(sb, record)
    assert operations(hops)[:6] == [
        ("S3", "PutObject"),
        ("S3", "notification"),
        ("SQS", "queue"),
        ("Lambda", "poller batch"),
        ("Lambda", "environment"),
        ("Lambda", "handler"),
    ]
    queue_hop = hops[2]
    assert queue_hop["resource"] == QUEUE and queue_hop["end"] >= queue_hop["start"]
    assert {h["operation"] for h in hops if h["caller"] == QUEUE_FUNCTION} == {"GetObject", "PutObject"}
    edges = {(e["from"], e["to"]) for e in sb.traces.service_map()["edges"]}
    assert {
        (f"bucket:{QUEUED_BUCKET}", f"queue:{QUEUE}"),
        (f"queue:{QUEUE}", f"function:{QUEUE_FUNCTION}"),
        (f"function:{QUEUE_FUNCTION}", f"bucket:{sb.config.destination_bucket}"),
    } <= edges


def test_a_traced_senders_messages_carry_its_trace_to_the_queues_function(sb):
    root = "1-6b000002-0123456789abcdef01234567"
    header = f"Root={root};Parent=00000000000000bb;Sampled=0"
    sqs = sb.client("sqs")  # as a function's client sends it: X-Amzn-Trace-Id on the request
    sqs.meta.events.register(
        "before-sign.sqs.SendMessage",
        lambda request, **_: request.headers.__setitem__("X-Amzn-Trace-Id", header),
    )
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    sqs.send_message(
        QueueUrl=url, MessageBody=json.dumps({"Event": "s3:TestEvent", "Bucket": "traced-sender"})
    )
    record = wait_for_record(
        sb,
        lambda r: r.function_name == QUEUE_FUNCTION and r.final and "traced-sender" in str(r.event),
        what="the traced message's invocation",
    )
    assert record.event["Records"][0]["attributes"]["AWSTraceHeader"] == header
    assert sb.traces.root_of(record.request_id) == root
    assert {("SQS", "SendMessage"), ("SQS", "queue"), ("Lambda", "handler")} <= set(
        operations(sb.traces.trace(root))
    )


def test_an_api_request_is_answered_on_the_clients_own_trace(sb):
    [api] = sb.client("apigatewayv2").get_apis()["Items"]
    root = "1-6b000000-0123456789abcdef01234567"
    request = urllib.request.Request(
        f"{sb.endpoint_url}/_aws/execute-api/{api['ApiId']}/images",
        headers={"X-Amzn-Trace-Id": f"Root={root}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
    record = wait_for_record(
        sb, lambda r: r.function_name == API_FUNCTION and r.final, what="the API request"
    )
    assert sb.traces.root_of(record.request_id) == root
    hops = sb.traces.trace(root)
    assert operations(hops)[:3] == [
        ("API Gateway", "GET /images"),
        ("Lambda", "environment"),
        ("Lambda", "handler"),
    ]
    assert hops[0]["outcome"] == "200" and hops[0]["end"] >= max(
        h["end"] for h in hops if h["service"] == "Lambda" and h["operation"] == "handler"
    )
    assert ("S3", "ListObjects") in operations(hops)


def test_a_traced_invoke_runs_the_function_on_the_callers_trace(sb):
    root = "1-6b000001-0123456789abcdef01234567"
    lam = sb.client("lambda")
    lam.meta.events.register(
        "before-sign.lambda.Invoke",
        lambda request, **_: request.headers.__setitem__(
            "X-Amzn-Trace-Id", f"Root={root};Parent=00000000000000aa"
        ),
    )
    answer = lam.invoke(FunctionName=API_FUNCTION, Payload=b"{}")
    record = sb.records.find(answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"])[0]
    assert record.trace_id.startswith(f"Root={root};Parent=") and X_RAY_HEADER.match(record.trace_id)
    assert ("Lambda", "Invoke") in operations(
        sb.traces.trace(root)
    )  # the call itself, as the endpoint saw it
    assert ("Lambda", "handler") in operations(sb.traces.trace(root))


def test_a_stream_batch_of_three_is_one_trace_from_the_stream_to_the_checkpoint(sb):
    items = [
        {"PutRequest": {"Item": {"key": {"S": f"t{n}.jpg"}, "caption": {"S": "<b>hi</b>"}}}} for n in range(3)
    ]
    sb.client("dynamodb").batch_write_item(RequestItems={TABLE: items})
    record = wait_for_record(
        sb, lambda r: r.function_name == STREAM_FUNCTION and r.final, what="the stream batch's invocation"
    )
    assert len(record.event["Records"]) == 3
    eventually(lambda: ("Lambda", "checkpoint") in operations(hops_of(sb, record)), what="the checkpoint")
    hops = hops_of(sb, record)
    assert operations(hops)[:4] == [
        ("DynamoDB", "stream"),
        ("Lambda", "poller batch"),
        ("Lambda", "environment"),
        ("Lambda", "handler"),
    ]
    assert hops[1]["detail"] == "batch of 3"
    writes = [h for h in hops if h["caller"] == STREAM_FUNCTION and h["operation"] == "PutObject"]
    assert len(writes) == 3
    assert operations(hops)[-1] == ("Lambda", "checkpoint")
    edges = {(e["from"], e["to"]) for e in sb.traces.service_map()["edges"]}
    assert (f"table:{TABLE}", f"function:{STREAM_FUNCTION}") in edges


def test_an_invocation_of_another_session_or_forgotten_trace_is_explained(sb, client):
    missing = client.get("/api/traces/invocations/no-such-request/1")
    assert missing.status_code == 404 and "No invocation" in missing.get_json()["error"]
    record = sb.invoke({"Records": []}, function_name=API_FUNCTION)
    kept, forgotten = sb.traces.keep, sb.traces.forgotten
    try:
        sb.traces.keep, sb.traces.forgotten = 0, 1
        sb.traces.add("1-6b000000-ffffffffffffffffffffffff", "S3", "x", "y", 1.0)  # the ring drops the rest
        answer = client.get(f"/api/traces/invocations/{record.request_id}/1").get_json()
    finally:
        sb.traces.keep, sb.traces.forgotten = kept, forgotten
    assert answer["hops"] == [] and "no longer kept" in answer["note"]


@pytest.mark.parametrize("path", ["/api/traces/map", "/api/traces/invocations/x/1"])
def test_the_trace_routes_answer_only_the_pages_own_host_and_origin(client, path):
    rebinding = client.get(path, headers={"Host": "evil.example:8000"})
    assert rebinding.status_code == 400 and "DNS-rebinding" in rebinding.get_json()["error"]
    foreign = client.get(path, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "Cross-origin" in foreign.get_json()["error"]
    cross_site = client.get(path, headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"})
    assert cross_site.status_code == 403
    assert client.post(path).status_code in (403, 405)
    assert client.get(path, headers={"Origin": "http://127.0.0.1:8000"}).status_code in (200, 404)
