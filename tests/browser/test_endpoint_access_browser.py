"""Issue 11's attacks from a real browser: a page on another local port (a foreign origin) tries to
create and run a function, change one, read, write and delete objects, with ``fetch`` and with HTML
forms, and through a foreign Host name (DNS rebinding, simulated with Chromium's host resolver rules).
Every attempt fails and nothing changes; an origin allowed with ``--allow-origin`` still uploads through
a presigned URL as the bucket's CORS configuration allows.
"""

from __future__ import annotations

import http.server
import json
import threading
import uuid

import pytest

from helpers.browser import WAIT_MS, launched_chromium
from helpers.sandboxes import free_port, start_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REBIND_NAME = "rebind.evil.example"


@pytest.fixture(scope="module")
def browser(playwright):
    # What DNS rebinding achieves: the attacker's name resolves to this machine. Chromium's Private
    # Network Access checks would stop the attacker's page (not loaded from loopback) before the
    # endpoint sees anything; other browsers have none, so they are off to test the endpoint's own rule.
    yield from launched_chromium(
        playwright,
        [
            f"--host-resolver-rules=MAP {REBIND_NAME} 127.0.0.1",
            "--disable-features=PrivateNetworkAccessSendPreflights,"
            "PrivateNetworkAccessRespectPreflightResults,"
            "BlockInsecurePrivateNetworkRequests,LocalNetworkAccessChecks",
        ],
    )


@pytest.fixture(scope="module")
def sb(browser):
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>another site</title><iframe name=sink></iframe>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def other_site():
    """A plain page on another local port: to the browser, a different origin from the sandbox."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


FETCH_ATTACKS = """async ([endpoint, bucket, key]) => {
    const zip = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==";
    const auth = "AWS4-HMAC-SHA256 Credential=test/20261130/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0";
    const attempts = {
        createFunction: () => fetch(endpoint + "/2015-03-31/functions", {method: "POST",
            headers: {"Authorization": auth, "Content-Type": "application/json"},
            body: JSON.stringify({FunctionName: "evil", Runtime: "python3.12", Handler: "a.b",
                                  Role: "arn:aws:iam::123456789012:role/x", Code: {ZipFile: zip}})}),
        invokeSimple: () => fetch(endpoint + "/2015-03-31/functions/ImageResizeLambda/invocations",
            {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: "{}"}),
        updateConfiguration: () => fetch(endpoint + "/2015-03-31/functions/ImageResizeLambda/configuration",
            {method: "PUT", headers: {"Authorization": auth, "Content-Type": "application/json"},
             body: JSON.stringify({Timeout: 900})}),
        listObjects: () => fetch(endpoint + "/" + bucket + "?list-type=2"),
        readObject: () => fetch(endpoint + "/" + bucket + "/" + key),
        deleteSimple: () => fetch(endpoint + "/" + bucket + "?delete", {method: "POST", mode: "no-cors",
            headers: {"Content-Type": "text/plain"},
            body: "<Delete><Object><Key>" + key + "</Key></Object></Delete>"}),
        overwrite: () => fetch(endpoint + "/" + bucket + "/" + key, {method: "PUT", body: "overwritten"}),
        deleteObject: () => fetch(endpoint + "/" + bucket + "/" + key, {method: "DELETE"}),
        readLogs: () => fetch(endpoint + "/", {method: "POST", headers: {"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
            "Content-Type": "application/x-amz-json-1.1"}, body: "{}"}),
    };
    const results = {};
    for (const [name, attempt] of Object.entries(attempts)) {
        try {
            const response = await attempt();
            // no-cors answers are opaque (status 0): the page learns nothing, but the request went out
            results[name] = response.type === "opaque" ? "opaque" : "read " + response.status + ": " + (await response.text()).slice(0, 80);
        } catch (error) {
            results[name] = "blocked";
        }
    }
    return results;
}"""  # noqa: E501 (JavaScript run in the browser)

FORM_ATTACKS = """async ([endpoint, bucket, key]) => {
    const post = (action, fields, enctype) => new Promise((resolve) => {
        const form = document.createElement("form");
        form.method = "POST"; form.action = action; form.target = "sink"; form.enctype = enctype;
        for (const [name, value] of Object.entries(fields)) {
            const input = document.createElement("input"); input.type = "hidden";
            input.name = name; input.value = value; form.appendChild(input);
        }
        document.body.appendChild(form);
        document.querySelector("iframe").addEventListener("load", () => resolve(), {once: true});
        form.submit();
    });
    await post(endpoint + "/" + bucket, {key: "evil-form.txt", file: "owned"}, "multipart/form-data");
    await post(endpoint + "/" + bucket + "?delete", {"<Delete><Object><Key>": key}, "text/plain");
    await post(endpoint + "/", {Action: "CreateQueue", QueueName: "evil"}, "application/x-www-form-urlencoded");
    return true;
}"""  # noqa: E501 (JavaScript run in the browser)


def precious_object(sb) -> str:
    key = f"precious-{uuid.uuid4().hex[:8]}.txt"
    sb.s3.put_object(Bucket=sb.config.source_bucket, Key=key, Body=b"precious")
    return key


def assert_nothing_changed(sb, key: str, invocations_before: int) -> None:
    lam = sb.client("lambda")
    assert "evil" not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert lam.get_function_configuration(FunctionName="ImageResizeLambda")["Timeout"] == sb.function.timeout
    assert sb.s3.get_object(Bucket=sb.config.source_bucket, Key=key)["Body"].read() == b"precious"
    assert sb.s3.list_objects_v2(Bucket=sb.config.source_bucket, Prefix="evil").get("KeyCount", 0) == 0
    assert not [q for q in sb.client("sqs").list_queues().get("QueueUrls", []) if q.endswith("/evil")]
    assert len([r for r in sb.invocations() if r.trigger == "invoke"]) == invocations_before


def test_a_page_of_another_origin_can_neither_read_nor_change_anything(sb, other_site, page):
    key = precious_object(sb)
    before = len([r for r in sb.invocations() if r.trigger == "invoke"])
    page.goto(other_site)
    results = page.evaluate(FETCH_ATTACKS, [sb.endpoint_url, sb.config.source_bucket, key])
    # Reads fail in the browser (no CORS); simple requests go out but the endpoint refuses them.
    for name, outcome in results.items():
        assert outcome in ("blocked", "opaque"), (name, outcome)
    page.evaluate(FORM_ATTACKS, [sb.endpoint_url, sb.config.source_bucket, key])
    assert_nothing_changed(sb, key, before)


def test_a_rebound_host_name_is_refused_even_as_same_origin(sb, page):
    key = precious_object(sb)
    before = len([r for r in sb.invocations() if r.trigger == "invoke"])
    rebound = f"http://{REBIND_NAME}:{sb.endpoint.port}"
    response = page.goto(f"{rebound}/{sb.config.source_bucket}?list-type=2")
    assert response.status == 403
    assert "DNS-rebinding" in page.content() and key not in page.content()
    # The attacker's own page, served under that name before it was rebound (answered here by the
    # browser's request routing): every request it sends is same-origin, so it could read the answers.
    page.route(
        f"{rebound}/attack.html",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<!doctype html><title>rebound</title>"
        ),
    )
    page.goto(f"{rebound}/attack.html")
    results = page.evaluate(FETCH_ATTACKS, [rebound, sb.config.source_bucket, key])
    for name, outcome in results.items():
        assert outcome.startswith("read 403"), (name, outcome)
    assert_nothing_changed(sb, key, before)


def test_an_allowed_origin_uploads_with_a_presigned_url_as_the_bucket_cors_allows(sb, other_site, page):
    bucket = f"front-end-{uuid.uuid4().hex[:8]}"
    sb.s3.create_bucket(Bucket=bucket)
    url = sb.s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "from-browser.txt", "ContentType": "text/plain"}
    )
    upload = """async (url) => {
        try {
            const r = await fetch(url, {method: "PUT", headers: {"Content-Type": "text/plain"}, body: "hello"});
            return "status " + r.status;
        } catch (error) { return "blocked"; }
    }"""  # noqa: E501 (JavaScript run in the browser)
    page.goto(other_site)
    assert page.evaluate(upload, url) == "blocked"  # not an allowed origin yet
    sb.access.allowed_origins.add(other_site)
    try:
        assert page.evaluate(upload, url) == "blocked"  # allowed, but the bucket has no CORS configuration
        sb.s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": [other_site],
                        "AllowedMethods": ["PUT"],
                        "AllowedHeaders": ["content-type"],
                    }
                ]
            },
        )
        assert page.evaluate(upload, url) == "status 200"
    finally:
        sb.access.allowed_origins.discard(other_site)
    assert sb.s3.get_object(Bucket=bucket, Key="from-browser.txt")["Body"].read() == b"hello"


# -- pages served from the endpoint's own origin ----------------------------------------------------
# What a page on the endpoint's origin tries, all by GET: list buckets, read an object, read the
# sandbox's history, create an IAM user and a stack whose function runs the attacker's code. Same-origin,
# the browser lets it set Authorization and read the answers; with no Referer, neither Origin nor Referer
# says where it comes from.
SAME_ORIGIN_ATTACKS = """async ([bucket, key, user, stack]) => {
  const auth = (service) => "AWS4-HMAC-SHA256 Credential=test/20261130/us-east-1/" + service +
      "/aws4_request, SignedHeaders=host, Signature=0";
  const template = JSON.stringify({Transform: "AWS::Serverless-2016-10-31", Resources: {Evil: {
      Type: "AWS::Serverless::Function", Properties: {Runtime: "python3.12", Handler: "index.handler",
      InlineCode: "def handler(e, c):\\n    return {'statusCode': 200, 'body': 'pwned'}\\n",
      Events: {Api: {Type: "HttpApi"}}}}}});
  const attempts = {
    listBuckets: () => fetch("/", {headers: {Authorization: auth("s3")}, referrerPolicy: "no-referrer"}),
    readObject: () => fetch("/" + bucket + "/" + key, {referrerPolicy: "no-referrer"}),
    invocations: () => fetch("/_sandbox/invocations", {referrerPolicy: "no-referrer"}),
    createUser: () => fetch("/?Action=CreateUser&UserName=" + user,
        {headers: {Authorization: auth("iam")}, referrerPolicy: "no-referrer"}),
    createStack: () => fetch("/?" + new URLSearchParams({Action: "CreateStack", StackName: stack,
        "Capabilities.member.1": "CAPABILITY_IAM", TemplateBody: template}),
        {headers: {Authorization: auth("cloudformation")}, referrerPolicy: "no-referrer"}),
  };
  const results = {};
  for (const [name, attempt] of Object.entries(attempts)) {
    try {
      const response = await attempt();
      results[name] = response.status + ": " + (await response.text()).slice(0, 120);
    } catch (error) { results[name] = "blocked"; }
  }
  return results;
}"""


def same_origin_page(sb) -> tuple[str, list]:
    """An HTML page that runs the attacks as soon as it loads, and their arguments."""
    args = [
        sb.config.source_bucket,
        precious_object(sb),
        f"evil-{uuid.uuid4().hex[:8]}",
        f"evil-{uuid.uuid4().hex[:8]}",
    ]
    html = (
        f"<!doctype html><title>evil</title><meta name=referrer content=no-referrer>"
        f"<script>window.started = true; ({SAME_ORIGIN_ATTACKS})({json.dumps(args)});</script>"
    )
    return html, args


def assert_page_got_nowhere(sb, page, args) -> None:
    from botocore.exceptions import ClientError

    _, key, user, stack = args
    # Run in that document, every attempt is refused ...
    for name, outcome in page.evaluate(SAME_ORIGIN_ATTACKS, args).items():
        assert outcome == "blocked" or outcome[:3] in ("403", "405"), (name, outcome)
        assert "precious" not in outcome and "ImageResizeLambda" not in outcome
    # ... and the page's own script never ran (a sandboxed CSP; inline scripts run while a page loads).
    assert page.evaluate("() => window.started === true") is False
    with pytest.raises(ClientError, match="NoSuchEntity|cannot be found"):
        sb.client("iam").get_user(UserName=user)
    assert stack not in [s["StackName"] for s in sb.client("cloudformation").list_stacks()["StackSummaries"]]


def test_an_html_object_on_the_endpoint_cannot_script_it(sb, page):
    html, args = same_origin_page(sb)
    bucket = f"public-site-{uuid.uuid4().hex[:8]}"
    sb.s3.create_bucket(Bucket=bucket)
    sb.s3.put_object(
        Bucket=bucket, Key="index.html", Body=html.encode(), ContentType="text/html", ACL="public-read"
    )
    response = page.goto(f"{sb.endpoint_url}/{bucket}/index.html")  # typed or bookmarked: served
    assert response.status == 200
    assert_page_got_nowhere(sb, page, args)
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_api_response_on_the_endpoint_path_cannot_script_it(sb, page):
    from helpers.waiting import eventually

    html, args = same_origin_page(sb)
    code = (
        f"def handler(event, context):\n    return {{'statusCode': 200, "
        f"'headers': {{'Content-Type': 'text/html'}}, 'body': {html!r}}}\n"
    )
    name = f"site-{uuid.uuid4().hex[:8]}"
    cloudformation = sb.client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        Capabilities=["CAPABILITY_IAM"],
        TemplateBody=json.dumps(
            {
                "Transform": "AWS::Serverless-2016-10-31",
                "Resources": {
                    "Site": {
                        "Type": "AWS::Serverless::Function",
                        "Properties": {
                            "Runtime": "python3.12",
                            "Handler": "index.handler",
                            "InlineCode": code,
                            "Events": {"Api": {"Type": "HttpApi"}},
                        },
                    }
                },
            }
        ),
    )
    eventually(
        lambda: cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"],
        lambda status: status == "CREATE_COMPLETE",
        what="the site's stack",
        timeout=60,
    )
    resources = cloudformation.describe_stack_resources(StackName=name)["StackResources"]
    api_id = next(r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::ApiGatewayV2::Api")
    response = page.goto(f"{sb.endpoint_url}/_aws/execute-api/{api_id}/")
    assert response.status == 200
    assert_page_got_nowhere(sb, page, args)
    assert "sandbox" in response.headers["content-security-policy"]
