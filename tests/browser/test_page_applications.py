"""Applications grouped by template on the page (issue 15 item 5): each stack a template made - at start
(`run_local.py --template`) or deployed into the running sandbox - with its functions, each function's
triggers and the stack's Outputs, AWS's URLs made local and clickable; and a template function's
invocation detail with its own log group's lines. Pure units, /api/applications through Flask's test client
over real sandboxes, and the Configuration tab in headless Chromium."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from helpers.browser import new_page
from helpers.paths import PROJECT_ROOT, SAM_APPS, TEST_OUTPUT
from helpers.sandboxes import start_sandbox
from web.app import create_app
from web.applications import application_view, link

APPS = SAM_APPS
PORT = 8000
SOURCE = "source-image-bucket123"
HOSTILE_OUTPUTS = {"Script": "javascript:alert(document.domain)", "Markup": "<img src=x onerror=alert(1)>"}


# -- pure ------------------------------------------------------------------------------------------------
def test_only_http_urls_become_links():
    assert (
        link("http://abc.execute-api.localhost:4566/Prod/hello/")
        == "http://abc.execute-api.localhost:4566/Prod/hello/"
    )
    assert link("HTTPS://example.com/x") == "HTTPS://example.com/x"
    for value in (
        "javascript:alert(1)",
        "data:text/html,<script>",
        "arn:aws:lambda:us-east-1:1:function:f",
        "http://a b",
        'http://x/"onmouseover=alert(1)',
        "",
        None,
        ["http://x"],
        42,
    ):
        assert link(value) is None, value


def test_an_application_is_made_json_safe_with_its_links_marked():
    view = application_view(
        {
            "name": "app",
            "template": PROJECT_ROOT / "template.yaml",
            "created_at": 0.0,
            "functions": [
                {
                    "name": "f",
                    "triggers": [{"type": "Api", "urls": ["http://a.execute-api.localhost:1/", "ftp://x"]}],
                }
            ],
            "outputs": [
                {"key": "Url", "value": "http://a.execute-api.localhost:1/Prod/"},
                {"key": "Js", "value": "javascript:x"},
                {"key": "List", "value": ["a", "b"]},
            ],
        }
    )
    assert (
        view["template"] == str(PROJECT_ROOT / "template.yaml")
        and view["created"] == "1970-01-01T00:00:00+00:00"
    )
    assert [o["url"] for o in view["outputs"]] == ["http://a.execute-api.localhost:1/Prod/", None, None]
    assert view["functions"][0]["triggers"][0]["urls"] == ["http://a.execute-api.localhost:1/"]
    json.dumps(view)


# -- helpers: the test client at the page's own address, the browser --------------------------------------
class LocalClient(FlaskClient):
    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", f"http://127.0.0.1:{PORT}")
        return super().open(*args, **kwargs)


def client_for(sandbox) -> FlaskClient:
    app = create_app(sandbox, {"WEB_PORT": PORT})
    app.test_client_class = LocalClient
    return app.test_client()


def served(sandbox):
    from web.server import WebServer

    return WebServer(create_app(sandbox), port=0).start()


@pytest.fixture
def page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


def function_row(page, stack: str, name: str):
    return page.locator(f'#applications article.app[data-stack="{stack}"] tr[data-function="{name}"]')


def output_cell(page, stack: str, key: str):
    return page.locator(
        f'#applications article.app[data-stack="{stack}"] tr[data-output="{key}"] td.app-value'
    )


def header_text(client) -> str:
    """The page's header line under its title, as text."""
    html = client.get("/").get_data(as_text=True)
    start = html.index('id="sandbox-name"')
    line = html[html.index(">", start) + 1 : html.index("</p>", start)]
    return " ".join(re.sub(r"<[^>]+>", "", line).split())


# -- a sandbox no template made anything in (first: one sandbox runs in a process at a time) --------------
@pytest.fixture(scope="class")
def plain():
    """The guide's sandbox alone (`make run`), stopped when its class of tests is done."""
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


class TestWithoutATemplate:
    def test_the_route_lists_no_application(self, plain):
        assert client_for(plain).get("/api/applications").get_json() == {"applications": []}

    def test_the_header_names_the_guides_stack(self, plain):
        header = header_text(client_for(plain))
        assert "the guide's source-image-bucket123 → λ ImageResizeLambda → resized-image-bucket123" in header
        assert "stack" not in header

    @pytest.mark.browser
    @pytest.mark.slow
    def test_the_page_says_how_to_run_a_template(self, plain, page):
        server = served(plain)
        try:
            page.goto(server.url + "#configuration")
            empty = page.locator("#applications-empty")
            empty.wait_for()
            assert 'make run ARGS="--template template.yaml"' in empty.inner_text()
            assert "aws cloudformation deploy" in empty.inner_text()
            assert page.locator("#applications article.app").count() == 0
            assert page.errors == []
        finally:
            server.stop()


# -- a sandbox started from template.yaml, two more templates deployed into it --------------------------
@pytest.fixture(scope="module")
def hostile_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile-outputs")
    outputs = "".join(f"  {key}:\n    Value: {json.dumps(value)}\n" for key, value in HOSTILE_OUTPUTS.items())
    (folder / "template.yaml").write_text(
        textwrap.dedent("""\
        AWSTemplateFormatVersion: "2010-09-09"
        Resources:
          Notes:
            Type: AWS::SQS::Queue
        Outputs:
        """)
        + outputs
    )
    return folder / "template.yaml"


@pytest.fixture(scope="module")
def sb(hostile_template):
    """The project's template.yaml (as `make run ARGS="--template template.yaml"`, named "main" whatever the
    checkout's folder), then AWS's hello-world app and a template whose outputs are not URLs deployed into
    it."""
    from sandbox.config import SandboxConfig
    from sandbox.core import Sandbox
    from sandbox.sam import TemplateStack

    sandbox = Sandbox(
        SandboxConfig(port=0, web_port=None),
        startup_stack=TemplateStack.from_file(PROJECT_ROOT / "template.yaml", stack_name="main"),
    ).start()
    try:
        sandbox.template_stacks.deploy(APPS / "hello-world" / "template.yaml", "sam-app")
        sandbox.template_stacks.deploy(hostile_template, "hostile-outputs")
    except BaseException:
        sandbox.stop()
        raise
    yield sandbox
    sandbox.stop()


def test_the_header_names_the_sandboxs_stacks_and_counts_their_functions(sb):
    header = header_text(client_for(sb))
    count = len({fn.function_name for fn in sb.functions()} | {sb.function.function_name})
    assert header == (
        f"stack main from template.yaml, stack sam-app from template.yaml, stack hostile-outputs from "
        f"template.yaml · {count} functions"
    )


def test_each_stack_comes_with_its_functions_their_triggers_and_its_local_outputs(sb):
    response = client_for(sb).get("/api/applications")
    assert response.status_code == 200
    stacks = {a["name"]: a for a in response.get_json()["applications"]}
    assert list(stacks) == ["main", "sam-app", "hostile-outputs"]
    main = stacks["main"]
    assert main["template"].endswith("template.yaml") and main["origin"] == "run_local.py --template"
    triggers = {f["name"]: [(t["type"], t.get("source")) for t in f["triggers"]] for f in main["functions"]}
    assert triggers["ImageResizeLambda"] == [("S3", f"s3://{SOURCE}")]
    assert [kind for kind, _ in triggers["ImageResizeQueueLambda"]] == ["SQS"]
    assert [kind for kind, _ in triggers["BucketReportLambda"]] == ["Schedule"]
    outputs = {o["key"]: o for o in main["outputs"]}
    assert outputs["ImagesApiUrl"]["url"] == outputs["ImagesApiUrl"]["value"]
    assert f".execute-api.localhost:{sb.endpoint.port}/images" in outputs["ImagesApiUrl"]["url"]
    assert outputs["SourceBucket"]["url"] is None and outputs["SourceBucket"]["value"] == SOURCE

    [hello] = stacks["sam-app"]["functions"]
    assert hello["logical_id"] == "HelloWorldFunction" and hello["name"].startswith(
        "sam-app-HelloWorldFunction-"
    )
    [api] = hello["triggers"]
    assert api["type"] == "Api" and api["route"] == "GET /hello"
    assert any(url.endswith("/Prod/hello") for url in api["urls"])
    hostile = {o["key"]: o for o in stacks["hostile-outputs"]["outputs"]}
    assert {key: (o["value"], o["url"]) for key, o in hostile.items()} == {
        key: (value, None) for key, value in HOSTILE_OUTPUTS.items()
    }


def test_the_route_answers_only_at_the_pages_own_host_and_changes_nothing(sb):
    client = client_for(sb)
    rebound = client.get("/api/applications", headers={"Host": f"attacker.example:{PORT}"})
    assert rebound.status_code == 400 and "DNS-rebinding" in rebound.get_json()["error"]
    assert client.post("/api/applications").status_code == 403  # no page token: refused before routing
    token = client.application.extensions["sandbox_web_token"]
    assert client.post("/api/applications", headers={"X-Sandbox-Token": token}).status_code == 405


def test_an_invocation_of_a_templates_function_shows_its_own_log_groups_lines(sb):
    """Each function writes to /aws/lambda/<its name>: the Invocations tab's detail reads that group, not the
    guide function's."""
    name = sb.template_stacks.get("sam-app").resource("HelloWorldFunction").physical_id
    record = sb.invoke({}, name)
    detail = client_for(sb).get(f"/api/invocations/{record.request_id}/1").get_json()
    own = [line["platform"] for line in detail["logs"] if line["request_id"] == record.request_id]
    assert own[0] == "START" and own[-2:] == ["END", "REPORT"]


@pytest.mark.browser
@pytest.mark.slow
def test_configuration_tab_groups_each_application_with_its_functions_triggers_and_outputs(sb, page):
    server = served(sb)
    try:
        page.goto(server.url + "#configuration")
        apps = page.locator("#applications article.app")
        apps.nth(2).wait_for()
        assert [apps.nth(i).get_attribute("data-stack") for i in range(apps.count())] == [
            "main",
            "sam-app",
            "hostile-outputs",
        ]
        assert page.locator("#applications-empty").is_hidden()
        main = page.locator('#applications article.app[data-stack="main"]')
        assert "template.yaml" in main.locator(".app-facts").inner_text()
        assert "CREATE_COMPLETE" in main.locator(".app-head").inner_text()

        s3 = function_row(page, "main", "ImageResizeLambda").locator(".trigger-list li")
        assert s3.get_attribute("data-type") == "S3" and f"s3://{SOURCE}" in s3.inner_text()
        assert "DynamoDB stream" in function_row(page, "main", "ImageCaptionsLambda").inner_text()
        assert "cron(0 3 * * ? *)" in function_row(page, "main", "BucketReportLambda").inner_text()
        url = sb.template_stacks.get("main").output("ImagesApiUrl")
        link = output_cell(page, "main", "ImagesApiUrl").locator("a")
        assert link.get_attribute("href") == url and link.inner_text() == url
        assert output_cell(page, "main", "SourceBucket").locator("a").count() == 0
        # the link is the API itself, served by the sandbox (Chromium resolves *.localhost to this machine)
        api = page.context.new_page()
        api.goto(url)
        assert "images" in json.loads(api.locator("body").inner_text())
        api.close()

        hello = sb.template_stacks.get("sam-app")
        route = function_row(page, "sam-app", hello.resource("HelloWorldFunction").physical_id).locator(
            ".trigger-list li"
        )
        assert "REST API" in route.inner_text() and "GET /hello" in route.inner_text()
        assert route.locator("a").count() == 2  # the Prod and Stage stages' URLs
        assert output_cell(page, "sam-app", "HelloWorldApi").locator("a").get_attribute(
            "href"
        ) == hello.output("HelloWorldApi")

        for key, value in HOSTILE_OUTPUTS.items():  # shown as the text they are, never followed or parsed
            cell = output_cell(page, "hostile-outputs", key)
            assert cell.inner_text() == value and cell.locator("a, img").count() == 0
        (TEST_OUTPUT / "web").mkdir(parents=True, exist_ok=True)
        page.locator("#applications").screenshot(path=str(TEST_OUTPUT / "web" / "applications.png"))
        assert page.errors == []
    finally:
        server.stop()
