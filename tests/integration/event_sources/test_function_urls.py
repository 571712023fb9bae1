"""Function URLs through the real parts: each URL config command run once with the AWS CLI (the other
tests make their URLs with boto3), called over HTTP at both URL forms, the event checked with Powertools'
LambdaFunctionUrlModel and key by key against Powertools' sample event."""

from __future__ import annotations

import json
import subprocess

import pytest
from aws_lambda_powertools.utilities.parser.models import LambdaFunctionUrlModel
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from helpers.aws_cli import aws_cli
from helpers.function_urls import FUNCTION, call, url_id
from helpers.paths import HANDLERS, PROJECT_ROOT
from helpers.runtimes import needs_node
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually

SAMPLE = json.loads(
    (PROJECT_ROOT / "tests" / "fidelity" / "references" / "lambda-url.powertools.json").read_text()
)
CORS = {
    "AllowOrigins": ["https://app.example"],
    "AllowMethods": ["GET", "POST"],
    "AllowHeaders": ["x-custom"],
    "ExposeHeaders": ["x-request-id"],
    "MaxAge": 120,
    "AllowCredentials": True,
}


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "api")
    yield sandbox
    sandbox.stop()


def aws(sb, *args, check=True) -> subprocess.CompletedProcess:
    result = aws_cli(sb)("lambda", *args, "--output", "json", cwd=PROJECT_ROOT, timeout=120)
    assert not check or result.returncode == 0, result.stderr
    return result


@pytest.fixture
def url(sb):
    """A fresh function URL (auth NONE, with CORS) for the test, deleted after it."""
    lambda_ = sb.client("lambda")
    yield lambda_.create_function_url_config(FunctionName=FUNCTION, AuthType="NONE", Cors=CORS)
    lambda_.delete_function_url_config(FunctionName=FUNCTION)


def key_shapes(value):
    """The keys of an event, nested, with each leaf's JSON type."""
    if isinstance(value, dict):
        return {k: key_shapes(v) for k, v in value.items()}
    return type(value).__name__


def test_url_configs_are_created_read_updated_listed_and_deleted_as_lambda_answers(sb):
    created = json.loads(
        aws(sb, "create-function-url-config", "--function-name", FUNCTION, "--auth-type", "NONE").stdout
    )
    try:
        assert created["FunctionUrl"] == f"http://{url_id(created)}.lambda-url.localhost:{sb.endpoint.port}/"
        assert (
            len(url_id(created)) == 32
            and created["AuthType"] == "NONE"
            and created["InvokeMode"] == "BUFFERED"
        )
        assert created["FunctionArn"].endswith(f":function:{FUNCTION}")
        again = aws(
            sb, "create-function-url-config", "--function-name", FUNCTION, "--auth-type", "NONE", check=False
        )
        assert again.returncode != 0 and "ResourceConflictException" in again.stderr
        updated = json.loads(
            aws(
                sb,
                "update-function-url-config",
                "--function-name",
                FUNCTION,
                "--auth-type",
                "AWS_IAM",
                "--cors",
                json.dumps({"AllowOrigins": ["*"]}),
            ).stdout
        )
        assert updated["FunctionUrl"] == created["FunctionUrl"] and updated["AuthType"] == "AWS_IAM"
        got = json.loads(aws(sb, "get-function-url-config", "--function-name", FUNCTION).stdout)
        assert got["Cors"] == {"AllowOrigins": ["*"]} and got["AuthType"] == "AWS_IAM"
        listed = json.loads(aws(sb, "list-function-url-configs", "--function-name", FUNCTION).stdout)
        assert [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [created["FunctionUrl"]]
        lambda_ = sb.client("lambda")
        streaming = lambda_.update_function_url_config(FunctionName=FUNCTION, InvokeMode="RESPONSE_STREAM")
        assert streaming["InvokeMode"] == "RESPONSE_STREAM"
        with pytest.raises(ClientError) as wrong:
            lambda_.update_function_url_config(FunctionName=FUNCTION, InvokeMode="STREAM")
        assert wrong.value.response["Error"]["Code"] == "ValidationException"
    finally:
        aws(sb, "delete-function-url-config", "--function-name", FUNCTION)
    gone = aws(sb, "get-function-url-config", "--function-name", FUNCTION, check=False)
    assert "ResourceNotFoundException" in gone.stderr
    assert call(sb, created)[0] == 403  # the deleted URL answers no more


def test_the_event_is_powertools_function_url_model_with_the_sample_events_keys(sb, url):
    status, headers, body = call(
        sb, url, "/items/a%20b?colour=red&colour=blue", headers={"Cookie": "a=1; b=2"}
    )
    assert status == 200, body
    raw = json.loads(body)
    event = LambdaFunctionUrlModel.model_validate(raw)
    assert event.routeKey == "$default" and event.rawPath == "/items/a b"
    assert event.requestContext.domainName == f"{url_id(url)}.lambda-url.localhost"
    assert event.requestContext.domainPrefix == url_id(url) == event.requestContext.apiId
    assert event.requestContext.accountId == "anonymous" and event.requestContext.stage == "$default"
    assert event.queryStringParameters == {"colour": "red,blue"} and event.cookies == ["a=1", "b=2"]
    assert headers["x-amzn-requestid"] == event.requestContext.requestId
    shapes, sample = key_shapes(raw), key_shapes(SAMPLE)
    for part in ("headers", "cookies", "queryStringParameters"):  # the request's own, not the format's
        shapes.pop(part), sample.pop(part, None)
    assert shapes == sample


def test_the_path_form_reaches_the_same_function_and_is_sandboxed_from_the_endpoints_origin(sb, url):
    status, headers, body = call(sb, url, "/hello", host_form=False)
    assert status == 200
    assert headers["content-security-policy"] == "sandbox"
    assert json.loads(body)["requestContext"]["domainPrefix"] == url_id(url)
    assert "content-security-policy" not in call(sb, url, "/hello")[1]


def test_a_function_url_maps_responses_and_errors_as_aws_does(sb, url):
    status, headers, body = call(sb, url, "/inferred")
    assert (status, headers["content-type"], json.loads(body)) == (
        200,
        "application/json",
        {"hello": "world"},
    )
    status, _, body = call(sb, url, "/raise")
    assert (status, body) == (502, b"Internal Server Error")


def test_cors_preflight_and_responses_follow_the_urls_configuration(sb, url):
    status, headers, _ = call(
        sb,
        url,
        "/items",
        "OPTIONS",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET,POST"
    assert headers["access-control-allow-headers"] == "x-custom"
    assert (
        headers["access-control-max-age"] == "120" and headers["access-control-allow-credentials"] == "true"
    )
    status, headers, _ = call(
        sb,
        url,
        "/items",
        "OPTIONS",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert not [h for h in headers if h.startswith("access-control-")]
    _, headers, _ = call(sb, url, "/items", headers={"Origin": "https://app.example"})
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-expose-headers"] == "x-request-id"


def _signed(sb, config, path="/whoami", key="test"):
    host = config["FunctionUrl"].split("//", 1)[1].rstrip("/")
    request = AWSRequest(method="GET", url=f"http://{host}{path}", headers={"Host": host})
    SigV4Auth(Credentials(key, "test"), "lambda", sb.config.region).add_auth(request)
    return dict(request.headers)


def test_an_aws_iam_url_refuses_an_unsigned_request_and_accepts_a_signed_one(sb):
    lambda_ = sb.client("lambda")
    config = lambda_.create_function_url_config(FunctionName=FUNCTION, AuthType="AWS_IAM")
    try:
        status, headers, body = call(sb, config, "/whoami")
        assert (status, json.loads(body)) == (403, {"Message": "Forbidden"})
        assert headers["x-amzn-errortype"] == "AccessDeniedException"
        status, _, body = call(sb, config, "/whoami", headers=_signed(sb, config))
        assert status == 200, body
        event = LambdaFunctionUrlModel.model_validate(json.loads(body))
        assert event.requestContext.authorizer.iam.accessKey == "test"
        assert event.requestContext.accountId == "123456789012"
        wrong_service = dict(_signed(sb, config))
        wrong_service["Authorization"] = wrong_service["Authorization"].replace("/lambda/", "/s3/")
        assert call(sb, config, "/whoami", headers=wrong_service)[0] == 403
    finally:
        lambda_.delete_function_url_config(FunctionName=FUNCTION)


def test_a_sandbox_shared_on_the_network_asks_for_its_token_on_aws_iam_urls():
    from sandbox.endpoint.access import AccessPolicy
    from sandbox.event_sources.function_urls import FunctionUrls

    class Source:
        context = type(
            "Context", (), {"access": AccessPolicy(bind_host="0.0.0.0", access_token="SBXTOKEN")}
        )()

    urls = FunctionUrls(Source())
    assert not urls._token_accepted({"REMOTE_ADDR": "192.168.1.20"}, "test")
    assert urls._token_accepted({"REMOTE_ADDR": "192.168.1.20"}, "SBXTOKEN")
    assert urls._token_accepted({"REMOTE_ADDR": "127.0.0.1"}, "test")


def test_the_url_is_listed_among_the_triggers(sb, url):
    found = [t for t in sb.triggers() if t["kind"] == "Function URL"]
    assert found == [
        {
            "kind": "Function URL",
            "source": f"{url_id(url)} (auth NONE)",
            "function": FUNCTION,
            "detail": "InvokeMode BUFFERED, CORS",
            "url": url["FunctionUrl"],
            "state": "Enabled",
        }
    ]


def test_generate_event_lambda_url_prints_an_event_of_the_models_shape(capsys):
    from sandbox.cli import main  # run_local.py's; its process runs in tests/integration/cli/test_cli.py

    assert main(["generate-event", "lambda-url", "--path", "/"]) == 0
    raw = json.loads(capsys.readouterr().out)
    LambdaFunctionUrlModel.model_validate(raw)
    shapes, sample = key_shapes(raw), key_shapes(SAMPLE)
    shapes.pop("headers"), sample.pop("headers")
    assert shapes == sample


TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/
      Handler: app.handler
      Runtime: python3.12
      FunctionUrlConfig:
        AuthType: NONE
        Cors:
          AllowOrigins: ["https://app.example"]
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnSuccess:
            Type: SQS
            Destination: !GetAtt Done.Arn
  Done:
    Type: AWS::SQS::Queue
Outputs:
  HelloUrl:
    Value: !GetAtt HelloUrl.FunctionUrl
"""


def test_a_sam_function_url_config_makes_a_url_that_answers(sb, tmp_path):
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "app.py").write_text(
        "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hi ' + event['rawPath']}\n"
    )
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    stack = sb.template_stacks.deploy(tmp_path / "template.yaml", stack_name="url-app")
    try:
        url = next(o["value"] for o in stack.outputs if o["key"] == "HelloUrl")
        assert url.endswith(f".lambda-url.localhost:{sb.endpoint.port}/")
        status, headers, body = call(
            sb, {"FunctionUrl": url}, "/there", headers={"Origin": "https://app.example"}
        )
        assert (status, body) == (200, b"hi /there")
        assert headers["access-control-allow-origin"] == "https://app.example"
        function = next(t["function"] for t in sb.triggers() if t.get("url") == url)  # the URL's function
        sb.client("lambda").invoke(
            FunctionName=function, InvocationType="Event", Payload=json.dumps({"rawPath": "/async"}).encode()
        )
        queue_url = sb.sqs.get_queue_url(QueueName=stack_queue(sb, "url-app"))["QueueUrl"]
        messages = eventually(
            lambda: sb.sqs.receive_message(QueueUrl=queue_url).get("Messages", []),
            what="the on-success record in the template's queue",
        )
        record = json.loads(messages[0]["Body"])
        assert record["requestContext"]["condition"] == "Success"
        assert record["responsePayload"] == {"statusCode": 200, "body": "hi /async"}
    finally:
        stack.delete(sb)


def stack_queue(sb, prefix: str) -> str:
    return next(
        u.rsplit("/", 1)[-1]
        for u in sb.sqs.list_queues().get("QueueUrls", [])
        if u.rsplit("/", 1)[-1].startswith(prefix)
    )


def test_a_url_event_invoked_directly_is_described_as_a_function_urls_not_an_apis():
    from sandbox.event_sources import event_source_classes
    from sandbox.event_sources.function_urls import sample_event

    described = next(d for d in (c.describe(sample_event(path="/x")) for c in event_source_classes()) if d)
    assert described[0] == "aws:lambda-url" and described[2]["path"] == "/x"


STREAMING_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Streamer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: streamer/
      Handler: index.handler
      Runtime: nodejs20.x
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: RESPONSE_STREAM
        Cors:
          AllowOrigins: ["https://app.example"]
Outputs:
  StreamerUrl:
    Value: !GetAtt StreamerUrl.FunctionUrl
"""


@needs_node
def test_a_sam_response_stream_url_streams_with_the_prelude_s_status_and_the_url_s_cors(sb, tmp_path):
    (tmp_path / "streamer").mkdir()
    (tmp_path / "streamer" / "index.mjs").write_text(
        "export const handler = awslambda.streamifyResponse(async (event, stream) => {\n"
        "  stream = awslambda.HttpResponseStream.from(stream, { statusCode: 202, headers: {'X-A': 'b'} });\n"
        "  stream.write('part 1, ');\n"
        "  stream.end(`part 2 of ${event.rawPath}`);\n"
        "});\n"
    )
    (tmp_path / "template.yaml").write_text(STREAMING_TEMPLATE)
    stack = sb.template_stacks.deploy(tmp_path / "template.yaml", stack_name="stream-app")
    try:
        url = next(o["value"] for o in stack.outputs if o["key"] == "StreamerUrl")
        [config] = [t for t in sb.triggers() if t.get("url") == url]
        assert "InvokeMode RESPONSE_STREAM" in config["detail"]
        status, headers, body = call(
            sb, {"FunctionUrl": url}, "/s", headers={"Origin": "https://app.example"}
        )
        assert (status, body) == (202, b"part 1, part 2 of /s")
        assert headers["x-a"] == "b" and headers["transfer-encoding"] == "chunked"
        assert headers["access-control-allow-origin"] == "https://app.example"
        status, headers, _ = call(sb, {"FunctionUrl": url}, "/s", host_form=False)  # the path form
        assert status == 202 and headers["content-security-policy"] == "sandbox"
    finally:
        stack.delete(sb)
