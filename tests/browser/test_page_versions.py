"""The page shows which version ran: an invocation through a weighted alias says its version (``v2 via
live``) in the Invocations table and its details, and the Functions tab lists the alias. In Debian's
Chromium at 1280x720; screenshots in test-output/web/."""

from __future__ import annotations

import io
import zipfile

import pytest

from helpers.browser import new_page
from helpers.paths import HANDLERS, TEST_OUTPUT
from helpers.sandboxes import start_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SOURCE = (HANDLERS / "versions" / "app.py").read_text()


def _code(tag: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", SOURCE.replace('CODE = "one"', f'CODE = "{tag}"'))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sb(browser):
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


def test_invocations_through_an_alias_show_the_version_that_ran(sb, server, browser):
    lam = sb.client("lambda")
    lam.create_function(
        FunctionName="Greeter",
        Runtime="python3.12",
        Role=sb.function.role_arn,
        Handler="app.handler",
        Code={"ZipFile": _code("one")},
    )
    lam.publish_version(FunctionName="Greeter")
    lam.update_function_code(FunctionName="Greeter", ZipFile=_code("two"))
    lam.publish_version(FunctionName="Greeter")
    lam.create_alias(
        FunctionName="Greeter",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    ran = {lam.invoke(FunctionName="Greeter", Qualifier="live")["ExecutedVersion"] for _ in range(40)}
    assert ran == {"1", "2"}  # 40 draws at one half: both, but for a chance of 2 in a trillion
    lam.invoke(FunctionName="Greeter")

    page = new_page(browser)
    try:
        page.set_viewport_size({"width": 1280, "height": 720})
        page.goto(server.url)
        page.click('.tabs [data-tab="invocations"]')
        for text in ("v1 via live", "v2 via live"):
            page.locator("#invocations-body td.fn-cell", has_text=text).first.wait_for()
        latest = page.locator("#invocations-body tr.row").first  # the newest: unqualified, $LATEST
        assert "via" not in latest.locator("td.fn-cell").inner_text()
        page.locator("#invocations-body td.fn-cell", has_text="v2 via live").first.click()
        page.get_by_text("2 (invoked as live)").wait_for()
        TEST_OUTPUT.joinpath("web").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(TEST_OUTPUT / "web" / "invocations-versions.png"))
        page.click('.tabs [data-tab="functions"]')
        page.get_by_text("Alias Greeter:live").wait_for()
        page.screenshot(path=str(TEST_OUTPUT / "web" / "functions-alias.png"))
        assert page.errors == []
    finally:
        page.context.close()
