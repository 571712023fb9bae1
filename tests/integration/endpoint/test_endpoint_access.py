"""Who may use the local endpoint: the AWS CLI, SDKs and the sandbox's own page, not other web pages.

Units drive the guard as a WSGI app with a fake service behind it; the integration tests send the
attacks of issue 11 over HTTP to a real sandbox (moto on a free port) and check that nothing changed.
The same attacks from a real browser are in tests/browser/test_endpoint_access_browser.py.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from helpers.aws_cli import aws_command
from helpers.paths import PROJECT_ROOT
from sandbox.endpoint.access import (
    AccessPolicy,
    EndpointGuard,
    parse_allowed_origin,
    s3_cors_rule,
    service_of,
)
from sandbox.errors import ConfigError
from sandbox.host_names import is_loopback_address

EVIL = "http://evil.example"
FRONT_END = "http://localhost:3000"
SIGNED_LAMBDA = (
    "AWS4-HMAC-SHA256 Credential={key}/20261130/us-east-1/lambda/aws4_request, "
    "SignedHeaders=host, Signature=00"
)


# -- units: the guard in front of a fake service ---------------------------------------------------
class FakeService:
    """Stands in for moto: records what reached it and answers with moto's allow-every-origin CORS."""

    def __init__(self):
        self.calls = []

    def __call__(self, environ, start_response):
        self.calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Allow-Methods", "*"),
            ],
        )
        return [b"ok"]


def guarded(policy: AccessPolicy | None = None, cors: dict | None = None):
    service = FakeService()
    guard = EndpointGuard(service, policy or AccessPolicy(), lambda bucket: (cors or {}).get(bucket))
    return service, Client(guard)


def test_requests_without_origin_reach_the_service_as_the_cli_sends_them():
    service, client = guarded()
    response = client.get("/source-image-bucket123", headers={"Host": "127.0.0.1:4566"})
    assert response.status_code == 200 and service.calls == [("GET", "/source-image-bucket123")]


def test_moto_cors_headers_never_leave_the_endpoint():
    _, client = guarded()
    response = client.get("/bucket", headers={"Host": "localhost:4566"})
    assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Referer": EVIL + "/attack.html"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://127.0.0.1:9999"},  # another local page is another origin too
    ],
)
def test_a_foreign_web_page_is_refused_before_any_service_sees_it(headers):
    service, client = guarded()
    response = client.post(
        "/source-image-bucket123?delete",
        data=b"<Delete/>",
        headers={"Host": "127.0.0.1:4566", "Content-Type": "text/plain", **headers},
    )
    assert response.status_code == 403
    assert service.calls == []
    assert b"<Code>AccessDenied</Code>" in response.data
    assert "Access-Control-Allow-Origin" not in response.headers


def test_refusal_names_the_origin_and_the_option_that_allows_it():
    _, client = guarded()
    response = client.get("/bucket", headers={"Origin": EVIL})
    assert f"--allow-origin {EVIL}" in response.get_data(as_text=True)


def test_lambda_refusal_is_a_json_error_botocore_reads():
    _, client = guarded()
    response = client.post(
        "/2015-03-31/functions",
        data=b"{}",
        headers={"Origin": EVIL, "Authorization": SIGNED_LAMBDA.format(key="test")},
    )
    body = json.loads(response.data)
    assert response.status_code == 403
    assert body["__type"] == "AccessDeniedException" and EVIL in body["message"]
    assert response.headers["x-amzn-ErrorType"] == "AccessDeniedException"


@pytest.mark.parametrize("host", ["rebind.evil.example:4566", "evil.example", "10.0.0.5:4566", "127.0.0.1:x"])
def test_a_foreign_host_name_is_refused_even_without_origin(host):
    service, client = guarded()
    response = client.get("/source-image-bucket123", headers={"Host": host})
    assert response.status_code == 403 and service.calls == []
    assert b"DNS-rebinding" in response.data


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:4566",
        "localhost:4566",
        "[::1]:4566",
        "LOCALHOST",
        "abc123.execute-api.localhost:4566",
        "127.0.0.2:4566",
    ],
)
def test_loopback_names_are_served(host):
    service, client = guarded()
    assert client.get("/b", headers={"Host": host}).status_code == 200


def test_all_interfaces_serve_ip_literals_but_not_foreign_names():
    policy = AccessPolicy(bind_host="0.0.0.0", access_token="SBXTOKEN")
    assert policy.host_allowed("192.168.1.20:4566") and policy.host_allowed("[fe80::1]:4566")
    assert not policy.host_allowed("rebind.evil.example:4566")


def test_a_specific_bind_address_is_served_by_that_name():
    policy = AccessPolicy(bind_host="teacher.lan")
    assert policy.host_allowed("teacher.lan:4566") and not policy.host_allowed("other.lan:4566")


def test_allowed_origin_gets_s3_cors_only_as_the_bucket_configures_it():
    rules = {
        "site": [
            {
                "AllowedOrigins": [FRONT_END],
                "AllowedMethods": ["PUT", "GET"],
                "AllowedHeaders": ["content-type"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 60,
            }
        ]
    }
    service, client = guarded(AccessPolicy(allowed_origins={FRONT_END}), rules)
    preflight = client.options(
        "/site/photo.jpg",
        headers={
            "Origin": FRONT_END,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert preflight.status_code == 200 and service.calls == []  # answered without moto
    assert preflight.headers["Access-Control-Allow-Origin"] == FRONT_END
    assert preflight.headers["Access-Control-Allow-Methods"] == "PUT, GET"
    assert preflight.headers["Access-Control-Max-Age"] == "60"
    got = client.get("/site/photo.jpg", headers={"Origin": FRONT_END})
    assert got.headers["Access-Control-Allow-Origin"] == FRONT_END
    assert got.headers["Access-Control-Expose-Headers"] == "ETag"


def test_allowed_origin_gets_no_cors_from_a_bucket_without_configuration():
    _, client = guarded(AccessPolicy(allowed_origins={FRONT_END}))
    preflight = client.options(
        "/plain/x", headers={"Origin": FRONT_END, "Access-Control-Request-Method": "PUT"}
    )
    assert preflight.status_code == 403 and b"CORS is not enabled for this bucket" in preflight.data
    got = client.get("/plain/x", headers={"Origin": FRONT_END})
    assert got.status_code == 200 and "Access-Control-Allow-Origin" not in got.headers


def test_s3_uses_the_first_rule_that_matches_origin_method_and_headers():
    rules = [
        {"AllowedOrigins": ["http://*.example.com"], "AllowedMethods": ["GET"], "AllowedHeaders": []},
        {
            "AllowedOrigins": ["http://app.example.com"],
            "AllowedMethods": ["PUT"],
            "AllowedHeaders": ["x-amz-*"],
        },
        {"AllowedOrigins": ["*"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"]},
    ]
    assert s3_cors_rule(rules, "http://app.example.com", "GET", []) is rules[0]
    assert s3_cors_rule(rules, "http://app.example.com", "PUT", ["X-Amz-Meta-Tag"]) is rules[1]
    assert s3_cors_rule(rules, "http://app.example.com", "PUT", ["content-type"]) is rules[2]
    assert s3_cors_rule(rules, "http://other.test", "DELETE", []) is None


def test_allowed_origin_may_call_other_services_as_browser_sdks_do():
    _, client = guarded(AccessPolicy(allowed_origins={FRONT_END}))
    preflight = client.options(
        "/2015-03-31/functions/f/invocations",
        headers={
            "Origin": FRONT_END,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-amz-date",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == FRONT_END
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization, x-amz-date"


def test_sandbox_routes_give_web_pages_no_cors():
    service, client = guarded(AccessPolicy(allowed_origins={FRONT_END}))
    assert (
        client.options(
            "/_sandbox/redrive", headers={"Origin": FRONT_END, "Access-Control-Request-Method": "POST"}
        ).status_code
        == 403
    )
    assert (
        "Access-Control-Allow-Origin"
        not in client.get("/_sandbox/health", headers={"Origin": FRONT_END}).headers
    )


@settings(max_examples=200, deadline=None)
@given(
    host=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){1,2}", fullmatch=True),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    scheme=st.sampled_from(["http", "https"]),
)
def test_no_origin_outside_the_allow_list_is_ever_reflected(host, port, scheme):
    origin = f"{scheme}://{host}" + (f":{port}" if port else "")
    policy = AccessPolicy(allowed_origins={FRONT_END})
    policy.allow_page("http://127.0.0.1:8000/")
    service, client = guarded(
        policy, {"b": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"]}]}
    )
    for response in (
        client.options("/b/k", headers={"Origin": origin, "Access-Control-Request-Method": "PUT"}),
        client.get("/b/k", headers={"Origin": origin}),
    ):
        if host.endswith(".localhost") or host == "localhost":
            continue
        assert response.status_code == 403
        assert "Access-Control-Allow-Origin" not in response.headers
    assert service.calls == []


@pytest.mark.parametrize("value", ["*", "null", "localhost:3000", "http://localhost:3000/app", "ftp://x"])
def test_allow_origin_takes_one_exact_origin(value):
    with pytest.raises(ConfigError, match="--allow-origin"):
        parse_allowed_origin(value)


def test_allow_origin_is_normalised_as_browsers_send_origins():
    assert parse_allowed_origin("HTTP://LocalHost:80/") == "http://localhost"


def test_the_sandbox_page_is_allowed_under_every_loopback_name():
    policy = AccessPolicy()
    policy.allow_page("http://127.0.0.1:8123/")
    for origin in ("http://127.0.0.1:8123", "http://localhost:8123", "http://[::1]:8123"):
        assert policy.origin_allowed(origin)
    assert not policy.origin_allowed("http://127.0.0.1:8124")


def test_other_machines_need_the_token_as_their_access_key_id():
    service, client = guarded(AccessPolicy(bind_host="0.0.0.0", access_token="SBXTOKEN"))
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    denied = client.post(
        "/2015-03-31/functions",
        environ_base=remote,
        headers={"Host": "192.0.2.1:4566", "Authorization": SIGNED_LAMBDA.format(key="test")},
    )
    assert denied.status_code == 403 and b"AWS_ACCESS_KEY_ID" in denied.data
    anonymous = client.get("/bucket/key", environ_base=remote, headers={"Host": "192.0.2.1:4566"})
    assert anonymous.status_code == 403
    allowed = client.post(
        "/2015-03-31/functions",
        environ_base=remote,
        headers={"Host": "192.0.2.1:4566", "Authorization": SIGNED_LAMBDA.format(key="SBXTOKEN")},
    )
    presigned = client.get(
        "/bucket/key?X-Amz-Credential=SBXTOKEN%2F20261130%2Fus-east-1%2Fs3%2Faws4_request",
        environ_base=remote,
        headers={"Host": "192.0.2.1:4566"},
    )
    local = client.get("/bucket/key", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert (allowed.status_code, presigned.status_code, local.status_code) == (200, 200, 200)
    assert len(service.calls) == 3


def test_service_is_read_from_the_signature_then_from_the_request_shape():
    assert service_of({"HTTP_AUTHORIZATION": SIGNED_LAMBDA.format(key="k")}) == "lambda"
    assert service_of({"PATH_INFO": "/2015-03-31/functions", "REQUEST_METHOD": "OPTIONS"}) == "lambda"
    assert service_of({"PATH_INFO": "/", "REQUEST_METHOD": "POST"}) == "query"
    assert service_of({"PATH_INFO": "/bucket/key", "REQUEST_METHOD": "GET"}) == "s3"
    assert service_of({"PATH_INFO": "/_sandbox/health"}) == "sandbox"


@pytest.mark.parametrize(
    "address,expected",
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("127.8.9.10", True),
        ("192.168.0.2", False),
        ("", False),
    ],
)
def test_loopback_client_addresses(address, expected):
    assert is_loopback_address(address) is expected


# -- the Runtime API of an execution environment --------------------------------------------------
class Listener:
    def __init__(self):
        self.calls = []

    def on_next_requested(self):
        self.calls.append("next")

    def on_response(self, request_id, payload):
        self.calls.append(("response", request_id))

    def on_error(self, request_id, payload, error_type):
        self.calls.append(("error", request_id))

    def on_init_error(self, payload, error_type):
        self.calls.append("init-error")


@pytest.mark.parametrize("headers", [{"Origin": EVIL}, {"Host": "rebind.evil.example"}])
def test_runtime_api_refuses_web_pages_and_foreign_hosts(headers):
    from sandbox.lambda_.runtime_api import PREFIX, RuntimeApiServer

    listener = Listener()
    server = RuntimeApiServer(listener, worker_pid=os.getpid).start()
    try:
        host, port = server.address.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.request("POST", f"{PREFIX}/invocation/abc/response", body=b"{}", headers=headers)
        response = connection.getresponse()
        assert response.status == 403 and b"AccessDenied" in response.read()
        connection.close()
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.request("POST", f"{PREFIX}/invocation/abc/response", body=b"{}")
        assert connection.getresponse().status == 202  # its own runtime process still gets through
    finally:
        server.stop()
    assert listener.calls == [("response", "abc")]


# -- integration: the attacks of issue 11 against a real sandbox -----------------------------------
def send(sb, method, path, headers=None, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", sb.endpoint.port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def tiny_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "lambda_function.py", "def lambda_handler(event, context):\n    open('/tmp/pwned', 'w')\n"
        )
    return buffer.getvalue()


def test_foreign_page_cannot_create_or_run_a_function(sandbox):
    lam = sandbox.client("lambda")
    before = len(sandbox.invocations())
    headers = {
        "Origin": EVIL,
        "Authorization": SIGNED_LAMBDA.format(key="test"),
        "Content-Type": "application/json",
    }
    status, head, _ = send(
        sandbox,
        "OPTIONS",
        "/2015-03-31/functions",
        {
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert status == 403 and "access-control-allow-origin" not in head
    import base64

    create = json.dumps(
        {
            "FunctionName": "evil",
            "Runtime": "python3.12",
            "Handler": "lambda_function.lambda_handler",
            "Role": "arn:aws:iam::123456789012:role/ImageResizeLambdaRole",
            "Code": {"ZipFile": base64.b64encode(tiny_zip()).decode()},
        }
    )
    assert send(sandbox, "POST", "/2015-03-31/functions", headers, create)[0] == 403
    assert (
        send(sandbox, "POST", "/2015-03-31/functions/ImageResizeLambda/invocations", headers, b"{}")[0] == 403
    )
    assert (
        send(
            sandbox,
            "PUT",
            "/2015-03-31/functions/ImageResizeLambda/configuration",
            headers,
            json.dumps({"Timeout": 900}),
        )[0]
        == 403
    )
    assert "evil" not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert lam.get_function_configuration(FunctionName="ImageResizeLambda")["Timeout"] != 900
    assert len(sandbox.invocations()) == before


def test_foreign_page_cannot_read_write_or_delete_objects(sandbox):
    key = f"keep-{uuid.uuid4().hex}.txt"
    bucket = sandbox.config.source_bucket
    sandbox.s3.put_object(Bucket=bucket, Key=key, Body=b"precious")
    delete = f"<Delete><Object><Key>{key}</Key></Object></Delete>".encode()
    form = (
        b'--B\r\nContent-Disposition: form-data; name="key"\r\n\r\nevil.txt\r\n--B\r\n'
        b'Content-Disposition: form-data; name="file"; filename="x"\r\n\r\nowned\r\n--B--\r\n'
    )
    attacks = [
        ("POST", f"/{bucket}?delete", {"Origin": EVIL, "Content-Type": "text/plain"}, delete),
        ("POST", f"/{bucket}", {"Origin": EVIL, "Content-Type": "multipart/form-data; boundary=B"}, form),
        ("PUT", f"/{bucket}/{key}", {"Referer": EVIL + "/page"}, b"overwritten"),
        ("GET", f"/{bucket}?list-type=2", {"Origin": EVIL}, None),
        ("GET", f"/{bucket}/{key}", {"Host": "rebind.evil.example:4566"}, None),
        ("DELETE", f"/{bucket}/{key}", {"Host": "rebind.evil.example:4566"}, None),
        (
            "POST",
            "/",
            {"Origin": EVIL, "Content-Type": "application/x-www-form-urlencoded"},
            b"Action=CreateQueue&QueueName=evil",
        ),
    ]
    for method, path, headers, body in attacks:
        status, head, data = send(sandbox, method, path, headers, body)
        assert status == 403, (method, path, status)
        assert "access-control-allow-origin" not in head and b"precious" not in data
    assert sandbox.s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"precious"
    listed = sandbox.s3.list_objects_v2(Bucket=bucket, Prefix="evil")
    assert listed.get("KeyCount", 0) == 0
    assert not [q for q in sandbox.client("sqs").list_queues().get("QueueUrls", []) if q.endswith("/evil")]


@pytest.mark.slow
def test_the_cli_and_boto3_still_use_the_endpoint(sandbox, aws_env):
    listed = subprocess.run(
        [*aws_command(), "lambda", "list-functions", "--query", "Functions[].FunctionName"],
        env=aws_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert "ImageResizeLambda" in listed.stdout


def test_allowed_origin_uses_a_presigned_put_per_the_bucket_cors(sandbox):
    import urllib.request

    bucket = f"front-{uuid.uuid4().hex[:8]}"
    sandbox.s3.create_bucket(Bucket=bucket)
    url = sandbox.s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "upload.txt"})
    path = url.split(str(sandbox.endpoint.port), 1)[1]
    sandbox.access.allowed_origins.add(FRONT_END)
    try:
        preflight = {"Origin": FRONT_END, "Access-Control-Request-Method": "PUT"}
        status, head, data = send(sandbox, "OPTIONS", path, preflight)
        assert status == 403 and b"CORS is not enabled" in data  # no configuration, no CORS (as AWS)
        sandbox.s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [
                    {"AllowedOrigins": [FRONT_END], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"]}
                ]
            },
        )
        status, head, _ = send(sandbox, "OPTIONS", path, preflight)
        assert status == 200 and head["access-control-allow-origin"] == FRONT_END
        request = urllib.request.Request(
            url,
            data=b"from my app",
            method="PUT",
            headers={"Origin": FRONT_END, "Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["Access-Control-Allow-Origin"] == FRONT_END
        assert sandbox.s3.get_object(Bucket=bucket, Key="upload.txt")["Body"].read() == b"from my app"
        status, _, _ = send(sandbox, "PUT", path, {"Origin": EVIL}, b"evil")
        assert status == 403
    finally:
        sandbox.access.allowed_origins.discard(FRONT_END)


@pytest.mark.slow
def test_sharing_on_the_network_prints_a_warning_and_the_token(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "run_local.py",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--no-web",
            "--quiet",
            "--token",
            "SBXCLASSROOM12345678",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("ready in"):
                break
        banner = "".join(lines)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=60)
    assert "export AWS_ACCESS_KEY_ID=SBXCLASSROOM12345678" in banner
    assert "warning: listening on 0.0.0.0" in err and "run any code" in err


@pytest.mark.slow
def test_token_is_refused_on_loopback_where_it_would_mean_nothing():
    result = subprocess.run(
        [sys.executable, "run_local.py", "--token", "x", "--port", "0", "--no-web"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--token is for a sandbox shared on the network" in result.stderr


@pytest.mark.slow
def test_bad_allow_origin_is_one_clear_message():
    result = subprocess.run(
        [sys.executable, "run_local.py", "--allow-origin", "*", "--port", "0", "--no-web"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        result.stderr.startswith("error: --allow-origin takes one origin")
        and "Traceback" not in result.stderr
    )


def test_page_shared_on_the_network_asks_other_machines_for_the_token(sandbox):
    from web.app import create_app

    app = create_app(sandbox, {"ALLOWED_HOSTS": ["192.0.2.1"]})
    client = app.test_client()
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    sandbox.access.access_token = "SBXPAGETOKEN"
    try:
        assert client.get("/api/state", headers={"Host": "192.0.2.1"}, environ_base=remote).status_code == 403
        login = client.get("/?token=SBXPAGETOKEN", headers={"Host": "192.0.2.1"}, environ_base=remote)
        assert login.status_code == 302 and "HttpOnly" in login.headers["Set-Cookie"]
        assert client.get("/api/state", headers={"Host": "192.0.2.1"}, environ_base=remote).status_code == 200
        local = app.test_client().get("/api/state", headers={"Host": "127.0.0.1"})
        assert local.status_code == 200  # this machine needs no token
    finally:
        sandbox.access.access_token = None


# -- methods and fetch metadata --------------------------------------------------------------------
def signed(service: str, key: str = "test") -> dict:
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20261130/us-east-1/{service}/aws4_request, "
        f"SignedHeaders=host, Signature=0123"
    }


def assert_nothing_created(sb, user=None, queue=None, rule=None, stack=None):
    from botocore.exceptions import ClientError

    if user:
        with pytest.raises(ClientError, match="NoSuchEntity|cannot be found"):
            sb.client("iam").get_user(UserName=user)
    if queue:
        assert not [q for q in sb.client("sqs").list_queues().get("QueueUrls", []) if q.endswith("/" + queue)]
    if rule:
        assert rule not in [r["Name"] for r in sb.client("events").list_rules()["Rules"]]
    if stack:
        stacks = sb.client("cloudformation").list_stacks()["StackSummaries"]
        assert stack not in [s["StackName"] for s in stacks]


def test_options_request_never_reaches_a_service(sandbox):
    from urllib.parse import urlencode

    user, queue, rule, stack = (f"evil-{uuid.uuid4().hex[:8]}" for _ in range(4))
    template = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    json_call = {"Content-Type": "application/x-amz-json-1.1"}
    attacks = [
        (
            "/?" + urlencode({"Action": "CreateStack", "StackName": stack, "TemplateBody": template}),
            signed("cloudformation"),
            None,
        ),
        (f"/?Action=CreateUser&UserName={user}", signed("iam"), None),
        (f"/?Action=CreateQueue&QueueName={queue}", signed("sqs"), None),
        (
            "/",
            {**signed("events"), **json_call, "X-Amz-Target": "AWSEvents.PutRule"},
            json.dumps({"Name": rule, "ScheduleExpression": "rate(1 minute)"}),
        ),
        ("/", {**signed("logs"), **json_call, "X-Amz-Target": "Logs_20140328.DescribeLogGroups"}, "{}"),
        (f"/{sandbox.config.source_bucket}?list-type=2", {}, None),
        ("/_sandbox/invocations", {}, None),
    ]
    for path, headers, body in attacks:
        # Neither a bare OPTIONS nor one with an Origin but no Access-Control-Request-Method is a preflight.
        for extra in ({}, {"Origin": FRONT_END}):
            status, _, data = send(sandbox, "OPTIONS", path, {**headers, **extra}, body)
            assert status in (403, 405), (path, extra, status, data[:200])
            assert b"<Code>" in data or b"__type" in data, data[:200]
            assert b"/aws/lambda/" not in data and b"<Contents>" not in data and b"invocations" not in data
    assert_nothing_created(sandbox, user=user, queue=queue, rule=rule, stack=stack)


def test_query_actions_that_change_things_are_accepted_only_as_post(sandbox):
    user, stack = f"evil-{uuid.uuid4().hex[:8]}", f"evil-{uuid.uuid4().hex[:8]}"
    template = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    from urllib.parse import urlencode

    for method in ("GET", "HEAD"):
        status, _, data = send(sandbox, method, f"/?Action=CreateUser&UserName={user}", signed("iam"))
        assert status == 405, (method, status)
        create_stack = urlencode({"Action": "CreateStack", "StackName": stack, "TemplateBody": template})
        status, _, data = send(sandbox, method, "/?" + create_stack, signed("cloudformation"))
        assert status == 405, (method, status)
    status, _, data = send(sandbox, "GET", f"/?Action=CreateUser&UserName={user}", signed("iam"))
    assert b"<Code>MethodNotAllowed</Code>" in data and b"POST" in data
    # A read in the query does not cover a change in a second Action or in a body (read whatever the method).
    two = f"/?Action=ListUsers&Action=CreateUser&UserName={user}"
    assert send(sandbox, "GET", two, signed("iam"))[0] == 405
    form = {**signed("cloudformation"), "Content-Type": "application/x-www-form-urlencoded"}
    body = urlencode({"Action": "CreateStack", "StackName": stack, "TemplateBody": template})
    assert send(sandbox, "GET", "/?Action=DescribeStacks", form, body)[0] == 405
    assert_nothing_created(sandbox, user=user, stack=stack)
    # Reads by GET are still answered, and the SDKs (POST) still change things.
    status, _, data = send(sandbox, "GET", "/?Action=ListUsers&Version=2010-05-08", signed("iam"))
    assert status == 200 and b"ListUsersResponse" in data
    sandbox.client("iam").create_user(UserName=user)
    sandbox.client("iam").delete_user(UserName=user)


def test_json_protocol_calls_are_accepted_only_as_post(sandbox):
    rule = f"evil-{uuid.uuid4().hex[:8]}"
    headers = {
        **signed("events"),
        "X-Amz-Target": "AWSEvents.PutRule",
        "Content-Type": "application/x-amz-json-1.1",
    }
    body = json.dumps({"Name": rule, "ScheduleExpression": "rate(1 minute)"})
    for method in ("GET", "PUT", "DELETE"):
        status, _, data = send(sandbox, method, "/", headers, body)
        assert status == 405 and b"MethodNotAllowedException" in data, (method, status, data[:200])
    assert_nothing_created(sandbox, rule=rule)


def test_moto_api_is_off_unless_asked(sandbox):
    bucket = sandbox.config.source_bucket
    for method, path in [
        ("POST", "/moto-api/reset"),
        ("GET", "/moto-api/reset"),
        ("GET", "/moto-api/data.json"),
        ("POST", "/moto-api/recorder/start-recording"),
        ("GET", "/moto-api/"),
    ]:
        status, _, data = send(sandbox, method, path, body=b"" if method == "POST" else None)
        assert status == 403 and b"--moto-api" in data, (method, path, status)
    assert bucket in [b["Name"] for b in sandbox.s3.list_buckets()["Buckets"]]  # nothing was reset


def test_moto_api_is_served_with_the_flag():
    service, client = guarded(AccessPolicy(moto_api=True))
    assert client.post("/moto-api/reset").status_code == 200
    assert service.calls == [("POST", "/moto-api/reset")]
    from sandbox.cli import build_parser

    assert build_parser().parse_args(["--moto-api"]).moto_api is True
    assert build_parser().parse_args([]).moto_api is False


@pytest.mark.parametrize("fetch_site", ["same-origin", "same-site", "cross-site"])
def test_a_request_a_browser_marks_as_from_a_page_needs_an_allowed_origin(fetch_site):
    service, client = guarded(AccessPolicy(allowed_origins={FRONT_END}))
    refused = client.get("/", headers={"Sec-Fetch-Site": fetch_site, **signed("s3")})
    assert refused.status_code == 403 and service.calls == []
    served = client.get("/", headers={"Sec-Fetch-Site": fetch_site, "Origin": FRONT_END, **signed("s3")})
    assert served.status_code == 200


def test_a_typed_address_and_tools_without_fetch_metadata_are_served():
    service, client = guarded()
    assert client.get("/bucket/key", headers={"Sec-Fetch-Site": "none"}).status_code == 200
    assert client.get("/bucket/key").status_code == 200
    assert len(service.calls) == 2


def test_a_page_on_the_endpoints_own_origin_cannot_use_it(sandbox):
    key = f"secret-{uuid.uuid4().hex[:8]}.txt"
    bucket = sandbox.config.source_bucket
    sandbox.s3.put_object(Bucket=bucket, Key=key, Body=b"precious", ACL="public-read")
    # What Chromium sends for a same-origin fetch from a page with Referrer-Policy: no-referrer.
    browser = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
    user = f"evil-{uuid.uuid4().hex[:8]}"
    attempts = [
        ("/", signed("s3")),
        (f"/{bucket}/{key}", signed("s3")),
        ("/_sandbox/invocations", {}),
        (f"/?Action=CreateUser&UserName={user}", signed("iam")),
    ]
    for path, headers in attempts:
        status, _, data = send(sandbox, "GET", path, {**browser, **headers})
        assert status == 403 and b"precious" not in data and bucket.encode() not in data, (path, status)
    assert_nothing_created(sandbox, user=user)
    typed = {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    status, head, data = send(sandbox, "GET", f"/{bucket}/{key}", typed)
    assert status == 200 and data == b"precious"


def test_objects_served_on_the_endpoint_cannot_script_it(sandbox):
    bucket = sandbox.config.source_bucket
    sandbox.s3.put_object(
        Bucket=bucket, Key="page.html", Body=b"<script>1</script>", ContentType="text/html", ACL="public-read"
    )
    status, head, _ = send(sandbox, "GET", f"/{bucket}/page.html")
    assert status == 200 and head["content-security-policy"] == "sandbox"
    assert head["x-content-type-options"] == "nosniff"


# -- the page (web/, its own port) follows the same method and fetch-metadata rules ---------------
@pytest.fixture(scope="module")
def page_server(sandbox):
    from web.app import create_app
    from web.server import WebServer

    server = WebServer(create_app(sandbox), port=0).start()
    yield server
    server.stop()


def page_request(server, method, path, headers=None):
    port = int(server.url.rstrip("/").rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, headers={"Host": f"127.0.0.1:{port}", **(headers or {})})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def test_page_answers_no_options_request(page_server):
    for headers in ({}, {"Origin": EVIL, "Access-Control-Request-Method": "POST"}):
        for path in ("/", "/api/state", "/api/configuration", "/api/upload"):
            status, head, _ = page_request(page_server, "OPTIONS", path, headers)
            assert status == 405 and "access-control-allow-origin" not in head, (path, headers, status)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"},
        {"Origin": EVIL},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},
    ],
)
def test_page_refuses_what_another_page_sends(page_server, headers):
    for path in ("/api/state", "/api/invocations", "/api/gallery", "/static/web/js/api.js"):
        status, _, data = page_request(page_server, "GET", path, headers)
        assert status == 403 and b"request refused: only the sandbox's own page" in data, (path, status)


def test_page_opens_from_a_link_a_typed_address_and_itself(page_server):
    link = {
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
        "Sec-Fetch-User": "?1",
    }
    assert page_request(page_server, "GET", "/", link)[0] == 200
    assert page_request(page_server, "GET", "/api/state", link)[0] == 403  # data is for the page itself
    typed = {**link, "Sec-Fetch-Site": "none"}
    assert page_request(page_server, "GET", "/", typed)[0] == 200
    itself = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
    assert page_request(page_server, "GET", "/api/state", itself)[0] == 200
    assert page_request(page_server, "GET", "/api/state")[0] == 200  # curl
