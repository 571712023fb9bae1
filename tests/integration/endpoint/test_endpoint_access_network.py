"""A sandbox shared on the network (``--host 0.0.0.0`` with a token), attacked from another machine.

The sandbox listens on all interfaces; 127.0.0.2 stands in for another machine on the network: requests
are sent from and to that address, and the sandbox's access policy counts only 127.0.0.1 and ::1 as this
machine. Each attack signs with a made-up key (not the token) and every method and path is tried:
nothing reaches a service and nothing changes.
"""

from __future__ import annotations

import http.client
import json
import uuid
from urllib.parse import urlencode

import pytest

from helpers.paths import PROJECT_ROOT

TOKEN = "SBXNETWORKTOKEN12345"
FRONT_END = "http://localhost:3000"
OTHER_MACHINE = "127.0.0.2"

# An HTTP API in front of a function whose code is in the template: CreateStack would run it.
EVIL_TEMPLATE = json.dumps(
    {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Evil": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "InlineCode": (
                        "def handler(event, context):\n    return {'statusCode': 200, 'body': 'pwned'}\n"
                    ),
                    "Events": {"Api": {"Type": "HttpApi"}},
                },
            }
        },
    }
)


def signed(service: str, key: str = "AKIAMADEUP") -> dict:
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20261130/us-east-1/{service}/aws4_request, "
        f"SignedHeaders=host, Signature=0123"
    }


@pytest.fixture(scope="module")
def shared():
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox

    sb = Sandbox(
        SandboxConfig(host="0.0.0.0", port=0, web_port=None, access_token=TOKEN),
        FunctionConfiguration(code_dir=PROJECT_ROOT / "handler"),
    )
    # 127.0.0.2 plays another machine: only 127.0.0.1 and ::1 are this one.
    sb.access.this_machine = lambda address: address in ("127.0.0.1", "::1", "::ffff:127.0.0.1")
    sb.start()
    yield sb
    sb.stop()


def from_other_machine(sb, method, path, headers=None, body=None):
    connection = http.client.HTTPConnection(
        OTHER_MACHINE, sb.endpoint.port, timeout=30, source_address=(OTHER_MACHINE, 0)
    )
    connection.request(
        method, path, body=body, headers={"Host": f"{OTHER_MACHINE}:{sb.endpoint.port}", **(headers or {})}
    )
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def json_target(target: str, service: str) -> dict:
    return {**signed(service), "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}


def test_options_from_another_machine_reaches_no_service_and_changes_nothing(shared):
    stack, user, queue, rule = (f"evil-{uuid.uuid4().hex[:8]}" for _ in range(4))
    create_stack = urlencode(
        {
            "Action": "CreateStack",
            "StackName": stack,
            "TemplateBody": EVIL_TEMPLATE,
            "Capabilities.member.1": "CAPABILITY_IAM",
        }
    )
    attacks = [
        ("/?" + create_stack, signed("cloudformation"), None),
        ("/?Action=DescribeStacks", signed("cloudformation"), None),
        (f"/?Action=CreateUser&UserName={user}", signed("iam"), None),
        (f"/?Action=CreateQueue&QueueName={queue}", signed("sqs"), None),
        ("/", json_target("DynamoDB_20120810.ListTables", "dynamodb"), b"{}"),
        (
            "/",
            json_target("AWSEvents.PutRule", "events"),
            json.dumps({"Name": rule, "ScheduleExpression": "rate(1 minute)"}).encode(),
        ),
        ("/", json_target("Logs_20140328.DescribeLogGroups", "logs"), b"{}"),
        ("/moto-api/reset", {}, None),
        ("/_sandbox/invocations", {}, None),
    ]
    for path, headers, body in attacks:
        status, data = from_other_machine(shared, "OPTIONS", path, headers, body)
        assert status in (403, 405), (path, status, data[:300])
        assert b"AccessDenied" in data or b"MethodNotAllowed" in data, (path, data[:300])
        assert b"/aws/lambda/" not in data and b"StackId" not in data and b"TableNames" not in data
    assert_nothing_created(shared, stack, user, queue, rule)


def test_every_method_and_path_from_another_machine_needs_the_token(shared):
    stack, user, queue, rule = (f"evil-{uuid.uuid4().hex[:8]}" for _ in range(4))
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"):
        for path, headers in [
            (f"/?Action=CreateUser&UserName={user}", signed("iam")),
            (f"/?Action=CreateQueue&QueueName={queue}", signed("sqs")),
            ("/moto-api/reset", {}),
            ("/moto-api/recorder/start-recording", {}),
            ("/moto-api/data.json", {}),
            ("/_sandbox/invocations", {}),
            ("/_sandbox/redrive", {}),
            (f"/{shared.config.source_bucket}", {}),
        ]:
            status, data = from_other_machine(shared, method, path, headers, b"" if method != "GET" else None)
            assert status == 403, (method, path, status, data[:200])
            assert method == "HEAD" or b"AWS_ACCESS_KEY_ID" in data, (method, path, data[:200])
    # A preflight from an allowed page on another machine needs it too (only a presigned URL carries it).
    shared.access.allowed_origins.add(FRONT_END)
    try:
        preflight = {"Origin": FRONT_END, "Access-Control-Request-Method": "POST"}
        for path in ("/", f"/{shared.config.source_bucket}/k", "/2015-03-31/functions"):
            status, data = from_other_machine(shared, "OPTIONS", path, preflight)
            assert status == 403 and b"AWS_ACCESS_KEY_ID" in data, (path, status, data[:200])
    finally:
        shared.access.allowed_origins.discard(FRONT_END)
    assert_nothing_created(shared, stack, user, queue, rule)


def test_the_token_still_opens_the_sandbox_to_another_machine(shared):
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{OTHER_MACHINE}:{shared.endpoint.port}",
        region_name="us-east-1",
        aws_access_key_id=TOKEN,
        aws_secret_access_key="test",
    )
    assert shared.config.source_bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    status, _ = from_other_machine(shared, "GET", "/_sandbox/health", signed("s3", key=TOKEN))
    assert status == 200
    status, _ = from_other_machine(shared, "GET", "/_sandbox/health")
    assert status == 403


def assert_nothing_created(sb, stack, user, queue, rule):
    from botocore.exceptions import ClientError

    stacks = sb.client("cloudformation").list_stacks()["StackSummaries"]
    assert stack not in [s["StackName"] for s in stacks]
    with pytest.raises(ClientError, match="NoSuchEntity|cannot be found"):
        sb.client("iam").get_user(UserName=user)
    assert not [q for q in sb.client("sqs").list_queues().get("QueueUrls", []) if q.endswith("/" + queue)]
    assert rule not in [r["Name"] for r in sb.client("events").list_rules()["Rules"]]
