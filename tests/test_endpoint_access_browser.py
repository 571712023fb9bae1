"""Issue 11's attacks from a real browser: a page on another local port (a foreign origin) tries to
create and run a function, change one, read, write and delete objects, with ``fetch`` and with HTML
forms, and through a foreign Host name (DNS rebinding, simulated with Chromium's host resolver rules).
Every attempt fails and nothing changes; an origin allowed with ``--allow-origin`` still uploads through
a presigned URL as the bucket's CORS configuration allows.
"""
from __future__ import annotations

import http.server
import threading
import uuid

import pytest

from conftest import free_port, start_sandbox
from test_web_browser import WAIT_MS, launched_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REBIND_NAME = "rebind.evil.example"


@pytest.fixture(scope="module")
def browser():
    # What DNS rebinding achieves: the attacker's name resolves to this machine.
    yield from launched_chromium([f"--host-resolver-rules=MAP {REBIND_NAME} 127.0.0.1"])


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
}"""

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
}"""


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
    # From the rebound page every request is same-origin, so the browser would let it read answers.
    results = page.evaluate(FETCH_ATTACKS, [rebound, sb.config.source_bucket, key])
    for name, outcome in results.items():
        assert outcome.startswith("read 403"), (name, outcome)
    assert_nothing_changed(sb, key, before)


def test_an_allowed_origin_uploads_with_a_presigned_url_as_the_bucket_cors_allows(sb, other_site, page):
    bucket = f"front-end-{uuid.uuid4().hex[:8]}"
    sb.s3.create_bucket(Bucket=bucket)
    url = sb.s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "from-browser.txt",
                                                            "ContentType": "text/plain"})
    upload = """async (url) => {
        try {
            const r = await fetch(url, {method: "PUT", headers: {"Content-Type": "text/plain"}, body: "hello"});
            return "status " + r.status;
        } catch (error) { return "blocked"; }
    }"""
    page.goto(other_site)
    assert page.evaluate(upload, url) == "blocked"  # not an allowed origin yet
    sb.access.allowed_origins.add(other_site)
    try:
        assert page.evaluate(upload, url) == "blocked"  # allowed, but the bucket has no CORS configuration
        sb.s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [other_site], "AllowedMethods": ["PUT"], "AllowedHeaders": ["content-type"]}]})
        assert page.evaluate(upload, url) == "status 200"
    finally:
        sb.access.allowed_origins.discard(other_site)
    assert sb.s3.get_object(Bucket=bucket, Key="from-browser.txt")["Body"].read() == b"hello"
