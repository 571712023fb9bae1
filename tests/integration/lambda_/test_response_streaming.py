"""Response streaming through the real parts: boto3's invoke_with_response_stream against a running sandbox, a
Node function with awslambda.streamifyResponse and a custom runtime speaking the Runtime API's streaming mode,
the bytes reaching the client while the function is still writing."""

import base64
import json
import time

import pytest

from helpers.runtimes import create_function, needs_node
from helpers.sandboxes import start_sandbox

pytestmark = pytest.mark.slow

STREAMING = """
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  console.log('streaming for', event.name);
  if (event.contentType) responseStream.setContentType(event.contentType);
  responseStream.write('first;');
  await new Promise((resolve) => setTimeout(resolve, event.pauseMs ?? 0));
  if (event.fail) throw new Error('broke mid-stream');
  responseStream.write({ second: context.awsRequestId.length });
  responseStream.end(';last');
});
"""

BUFFERED = """
export const handler = async (event) => ({ echo: event.name });
"""

# A custom runtime streaming with Python's standard library: the protocol itself, chunk by chunk.
CUSTOM_BOOTSTRAP = """#!/usr/bin/env python3
import base64, http.client, json, os, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
api = "/2018-06-01/runtime"
while True:
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("GET", api + "/invocation/next")
    answer = conn.getresponse()
    request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
    event = json.loads(answer.read())
    conn.putrequest("POST", f"{api}/invocation/{request_id}/response")
    conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "text/plain")
    conn.putheader("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
    conn.endheaders()
    for part in (b"custom-1;", b"custom-2"):
        conn.send(b"%x\\r\\n%s\\r\\n" % (len(part), part))
        time.sleep(0.2)
    trailers = b""
    if event.get("fail"):
        error = {"errorType": "CustomError", "errorMessage": "custom failure"}
        body = base64.b64encode(json.dumps(error).encode())
        trailers = (b"Lambda-Runtime-Function-Error-Type: CustomError\\r\\n"
                    b"Lambda-Runtime-Function-Error-Body: " + body + b"\\r\\n")
    conn.send(b"0\\r\\n" + trailers + b"\\r\\n")
    conn.getresponse().read()
    conn.close()
"""


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


def _events(response):
    """(arrival time, event) for each event of the stream, read as boto3 reads them."""
    return [(time.monotonic(), event) for event in response["EventStream"]]


def _payload(events) -> bytes:
    return b"".join(e["PayloadChunk"]["Payload"] for _, e in events if "PayloadChunk" in e)


@needs_node
def test_chunks_reach_the_client_while_the_function_is_still_writing(sb):
    create_function(sb, "NodeStream", "nodejs20.x", "index.handler", {"index.mjs": STREAMING}, Timeout=10)
    started = time.monotonic()
    response = sb.client("lambda").invoke_with_response_stream(
        FunctionName="NodeStream", Payload=json.dumps({"name": "a", "pauseMs": 1500}), LogType="Tail"
    )
    events = _events(response)
    assert response["StatusCode"] == 200 and response["ExecutedVersion"] == "$LATEST"
    chunks = [(at, e["PayloadChunk"]["Payload"]) for at, e in events if "PayloadChunk" in e]
    assert chunks[0][1] == b"first;"
    second = next(at for at, data in chunks if b"second" in data)
    # The first chunk arrived before the function wrote the second one, 1.5 s later.
    assert second - chunks[0][0] >= 1.0, (chunks, started)
    assert _payload(events) == b'first;{"second":36};last'
    complete = events[-1][1]["InvokeComplete"]
    assert "ErrorCode" not in complete
    assert "streaming for a" in base64.b64decode(complete["LogResult"]).decode()


@needs_node
def test_a_timeout_part_way_through_keeps_the_bytes_sent_and_names_the_timeout(sb):
    create_function(sb, "NodeStreamSlow", "nodejs20.x", "index.handler", {"index.mjs": STREAMING}, Timeout=1)
    response = sb.client("lambda").invoke_with_response_stream(
        FunctionName="NodeStreamSlow", Payload=json.dumps({"pauseMs": 5000})
    )
    events = _events(response)
    assert _payload(events) == b"first;"
    complete = events[-1][1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in complete["ErrorDetails"]


@needs_node
def test_an_error_part_way_through_ends_the_stream_with_invoke_complete_naming_it(sb):
    create_function(sb, "NodeStreamFails", "nodejs22.x", "index.handler", {"index.mjs": STREAMING})
    response = sb.client("lambda").invoke_with_response_stream(
        FunctionName="NodeStreamFails", Payload=json.dumps({"fail": True})
    )
    events = _events(response)
    assert _payload(events) == b"first;"
    complete = events[-1][1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Error"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "broke mid-stream"


@needs_node
def test_a_buffered_function_streams_its_whole_response_and_a_plain_invoke_of_a_streaming_one_buffers(sb):
    create_function(sb, "NodeBuffered", "nodejs20.x", "index.handler", {"index.mjs": BUFFERED})
    events = _events(
        sb.client("lambda").invoke_with_response_stream(FunctionName="NodeBuffered", Payload=b'{"name": "b"}')
    )
    assert json.loads(_payload(events)) == {"echo": "b"}
    create_function(sb, "NodeStreamPlain", "nodejs20.x", "index.handler", {"index.mjs": STREAMING})
    answer = sb.client("lambda").invoke(FunctionName="NodeStreamPlain", Payload=b"{}")
    assert "FunctionError" not in answer
    assert answer["Payload"].read() == json.dumps('first;{"second":36};last').encode()


def test_a_custom_runtime_streams_through_the_runtime_api_with_trailers_for_errors(sb):
    create_function(
        sb,
        "CustomStream",
        "provided.al2023",
        "unused",
        {"bootstrap": CUSTOM_BOOTSTRAP},
        modes={"bootstrap": 0o755},
    )
    events = _events(
        sb.client("lambda").invoke_with_response_stream(FunctionName="CustomStream", Payload=b"{}")
    )
    assert _payload(events) == b"custom-1;custom-2"
    assert "ErrorCode" not in events[-1][1]["InvokeComplete"]
    events = _events(
        sb.client("lambda").invoke_with_response_stream(
            FunctionName="CustomStream", Payload=b'{"fail": true}'
        )
    )
    assert _payload(events) == b"custom-1;custom-2"
    complete = events[-1][1]["InvokeComplete"]
    assert complete["ErrorCode"] == "CustomError"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "custom failure"


HTTP_STREAMING = """
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'Content-Type': 'text/plain', 'X-Path': event.rawPath },
    cookies: ['flavour=oat'],
  });
  responseStream.write('hello ');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  responseStream.write('world');
  responseStream.end();
});
"""


def _read_url_as_it_arrives(sb, config, path="/"):
    """Status, headers and (arrival time, bytes) of each read of a function URL's body."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", sb.endpoint.port, timeout=30)
    connection.request("GET", path, headers={"Host": config["FunctionUrl"].split("//", 1)[1].rstrip("/")})
    response = connection.getresponse()
    pieces = []
    while True:
        data = response.read1(65536)
        if not data:
            break
        pieces.append((time.monotonic(), data))
    connection.close()
    return response.status, response.headers, pieces


@needs_node
def test_a_response_stream_function_url_sends_the_prelude_as_status_and_headers_then_bytes_as_written(sb):
    create_function(sb, "NodeUrlStream", "nodejs20.x", "index.handler", {"index.mjs": HTTP_STREAMING})
    config = sb.client("lambda").create_function_url_config(
        FunctionName="NodeUrlStream", AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )
    status, headers, pieces = _read_url_as_it_arrives(sb, config, "/items?x=1")
    assert status == 201
    assert headers["Content-Type"] == "text/plain" and headers["X-Path"] == "/items"
    assert headers["Set-Cookie"] == "flavour=oat" and headers["Transfer-Encoding"] == "chunked"
    assert b"".join(data for _, data in pieces) == b"hello world"
    assert pieces[0][1] == b"hello "
    assert pieces[-1][0] - pieces[0][0] >= 1.0  # "hello " came before "world" was written


@needs_node
def test_a_response_stream_url_of_a_buffered_function_sends_its_whole_output_as_the_body(sb):
    handler = "export const handler = async () => ({ statusCode: 404, body: 'not here' });"
    create_function(sb, "NodeUrlBuffered", "nodejs20.x", "index.handler", {"index.mjs": handler})
    config = sb.client("lambda").create_function_url_config(
        FunctionName="NodeUrlBuffered", AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )
    status, headers, pieces = _read_url_as_it_arrives(sb, config)
    # Lambda streams every response of a RESPONSE_STREAM URL: the output is the body, not read as a mapping.
    assert status == 200
    assert json.loads(b"".join(d for _, d in pieces)) == {"statusCode": 404, "body": "not here"}


def test_a_python_function_has_no_streaming_its_whole_response_is_one_chunk(sb):
    create_function(
        sb,
        "PyBuffered",
        "python3.12",
        "app.handler",
        {"app.py": "def handler(event, context):\n    return [1, 2]\n"},
    )
    events = _events(
        sb.client("lambda").invoke_with_response_stream(FunctionName="PyBuffered", Payload=b"{}")
    )
    assert [list(e) for _, e in events] == [["PayloadChunk"], ["InvokeComplete"]]
    assert json.loads(_payload(events)) == [1, 2]


def test_a_streamed_invoke_refuses_a_body_that_is_not_json_and_a_dry_run_invokes_nothing(sb):
    from botocore.exceptions import ClientError

    create_function(
        sb,
        "PyDryRun",
        "python3.12",
        "app.handler",
        {"app.py": "def handler(event, context):\n    print('ran')\n    return 1\n"},
    )
    client = sb.client("lambda")
    with pytest.raises(ClientError) as refused:
        client.invoke_with_response_stream(FunctionName="PyDryRun", Payload=b"{not json")
    assert refused.value.response["Error"]["Code"] == "InvalidRequestContentException"
    dry = client.invoke_with_response_stream(FunctionName="PyDryRun", InvocationType="DryRun", Payload=b"{}")
    assert dry["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not [r for r in sb.records.all() if r.function_name == "PyDryRun"]
