"""The page shows what a streaming function sent: an invocation of the response-streaming example through its
function URL says how many bytes it streamed, in its Invocations row and, where a buffered function shows
its result, in its details; the Configuration tab's triggers name the URL's InvokeMode. In Debian's
Chromium at 1280x720; screenshots in test-output/web/."""

from __future__ import annotations

import urllib.request

import pytest

from helpers.browser import new_page
from helpers.paths import TEST_OUTPUT
from helpers.runtimes import needs_node
from helpers.sandboxes import start_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def sb(browser):
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


@needs_node
def test_a_streamed_invocation_shows_the_bytes_it_streamed(sb, server, browser):
    from sandbox.guide.example_setups import set_up

    set_up(sb, ["response-streaming"])
    url = sb.client("lambda").get_function_url_config(FunctionName="StreamingProgressLambda")["FunctionUrl"]
    url_id = url.split("//", 1)[1].split(".", 1)[0]
    with urllib.request.urlopen(f"{sb.endpoint_url}/_aws/lambda-url/{url_id}/?steps=2", timeout=60) as answer:
        streamed = len(answer.read())  # the body; the function also streamed its status and headers' prelude
    assert streamed > 0

    page = new_page(browser)
    try:
        page.set_viewport_size({"width": 1280, "height": 720})
        page.goto(server.url)
        page.click('.tabs [data-tab="invocations"]')
        row = page.locator("#invocations-body tr.row", has_text="StreamingProgressLambda").first
        row.locator("text=/streamed \\d+ B/").wait_for()
        row.click()
        result = page.get_by_text("(response streaming)")
        result.wait_for()
        assert result.inner_text().startswith("Streamed ")
        assert "none yet" not in page.locator(".detail").inner_text()
        TEST_OUTPUT.joinpath("web").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(TEST_OUTPUT / "web" / "invocations-streamed.png"))
        result.scroll_into_view_if_needed()
        page.screenshot(path=str(TEST_OUTPUT / "web" / "invocations-streamed-result.png"))
        page.click('.tabs [data-tab="configuration"]')  # the triggers list names the URL's mode
        page.get_by_text("InvokeMode RESPONSE_STREAM").first.wait_for()
        page.get_by_text("InvokeMode RESPONSE_STREAM").first.scroll_into_view_if_needed()
        page.screenshot(path=str(TEST_OUTPUT / "web" / "configuration-streaming-url.png"))
        assert page.errors == []
    finally:
        page.context.close()
