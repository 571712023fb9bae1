"""The Test tab in headless Chromium at 1280x720, against a real sandbox and the real WebServer: the S3 put
template invoked on ImageResizeLambda shows the result, a REPORT line with its Duration and the five stages;
a saved event is listed again after a reload; an exported event runs as it is with ``run_local.py invoke
--event`` and imports back; a function's error is shown as the console shows it. Screenshots go to
test-output/web/."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.browser import HOSTILE_KEY, WAIT_MS
from helpers.paths import HANDLERS, PROJECT_ROOT, RUN_LOCAL, SAMPLES, TEST_OUTPUT
from helpers.runtimes import create_function
from helpers.sandboxes import start_sandbox
from helpers.waiting import wait_for_record

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FUNCTION = "ImageResizeLambda"
FAULTS = "FaultsFunction"


@pytest.fixture(scope="module")
def sb(browser):
    sandbox = start_sandbox(maximum_retry_attempts=0)
    create_function(
        sandbox,
        FAULTS,
        "python3.12",
        "lambda_function.lambda_handler",
        {"lambda_function.py": (HANDLERS / "faults" / "lambda_function.py").read_text()},
    )
    sandbox.client("s3").upload_file(str(SAMPLES / "test.jpg"), sandbox.config.source_bucket, "test.jpg")
    wait_for_record(sandbox, lambda r: r.trigger == "s3" and r.final, what="the upload's own invocation")
    yield sandbox
    sandbox.stop()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 720}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(f"script error: {error}"))
    page.on("dialog", lambda dialog: (page.errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield page
    context.close()


def open_test_tab(page, server):
    page.goto(server.url + "#test")
    page.locator(f'#test-function option[value="{FAULTS}"]').wait_for(state="attached")
    page.locator('#test-template option[value="s3-put"]').wait_for(state="attached")


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_the_s3_put_template_invokes_the_function_and_shows_result_report_and_stages(
    sb, server, page, tmp_path
):
    shots = TEST_OUTPUT / "web"
    shots.mkdir(parents=True, exist_ok=True)
    open_test_tab(page, server)
    functions = page.locator("#test-function option").all_inner_texts()
    assert functions == [FUNCTION, FAULTS]  # every function of the sandbox
    page.select_option("#test-function", FUNCTION)
    page.select_option("#test-template", "s3-put")
    page.wait_for_function("() => document.querySelector('#test-event').value.includes('ObjectCreated:Put')")
    assert '"key": "test.jpg"' in page.input_value("#test-event")

    page.click("#test-invoke")
    outcome = page.locator("#test-result .test-outcome .badge")
    outcome.wait_for()
    assert outcome.inner_text() == "Succeeded"
    report = page.locator("#test-result .log-line.platform-report")
    assert "Duration:" in report.inner_text() and "Billed Duration:" in report.inner_text()
    assert page.locator("#test-result .log-line.platform-start").count() == 1
    assert page.locator("#test-result .test-stages .timeline li").count() == 5
    figures = page.locator("#test-result .test-figures").inner_text()
    assert "Duration" in figures and "Max memory used" in figures and " MB of " in figures
    assert '\\"resized\\": 1' in page.locator("#test-result .test-payload").inner_text()
    assert no_sideways_scroll(page)
    page.screenshot(path=str(shots / "test-tab.png"))
    page.screenshot(path=str(shots / "test-tab-full.png"), full_page=True)

    # saved, exported, and listed again after a reload
    page.fill("#test-name", "resize-test_jpg")
    page.click("#test-save")
    page.locator('#test-saved-list li[data-name="resize-test_jpg"]').wait_for()
    assert "in memory" in page.locator("#test-saved-where").inner_text()
    with page.expect_download() as download:
        page.click("#test-export")
    exported = tmp_path / download.value.suggested_filename
    download.value.save_as(exported)
    assert exported.name == "resize-test_jpg.json"
    assert json.loads(exported.read_text())["Records"][0]["s3"]["object"]["key"] == "test.jpg"

    page.reload()
    open_test_tab(page, server)
    saved = page.locator('#test-saved-list li[data-name="resize-test_jpg"]')
    saved.wait_for()
    page.fill("#test-event", "{}")
    saved.locator("button.link-button").click()
    page.wait_for_function("() => document.querySelector('#test-event').value.includes('test.jpg')")
    page.fill("#test-event", "{}")
    page.set_input_files("#test-import", str(exported))
    page.wait_for_function("() => document.querySelector('#test-event').value.includes('test.jpg')")
    assert page.errors == []

    # the exported file, as it is, with run_local.py invoke --event
    ran = subprocess.run(
        [
            sys.executable,
            str(RUN_LOCAL),
            "invoke",
            "--event",
            str(exported),
            "--endpoint-url",
            sb.endpoint_url,
            "--function-name",
            FUNCTION,
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    assert "REPORT RequestId:" in ran.stdout and '\\"resized\\": 1' in ran.stdout


def test_a_failing_event_shows_the_error_as_the_console_does(server, page):
    shots = TEST_OUTPUT / "web"
    shots.mkdir(parents=True, exist_ok=True)
    open_test_tab(page, server)
    page.select_option("#test-function", FAULTS)
    page.fill("#test-event", "{bad json")
    assert "Invalid JSON" in page.locator("#test-json-status").inner_text()
    page.click("#test-invoke")
    assert "not valid JSON" in page.locator("#test-status").inner_text()
    assert page.locator("#test-result .test-outcome").count() == 0

    page.fill("#test-event", json.dumps({"action": "raise", "note": HOSTILE_KEY}))
    page.click("#test-invoke")
    outcome = page.locator("#test-result .test-outcome .badge")
    outcome.wait_for()
    assert outcome.inner_text() == "Failed"
    error = page.locator("#test-result .test-error-detail").inner_text()
    assert "ValueError" in error and "boom" in error
    assert '"errorType": "ValueError"' in page.locator("#test-result .test-payload").inner_text()
    assert page.locator("#test-result .log-line.kind-error").count() >= 1
    assert "ValueError: boom" in page.locator("#test-result .test-stages").inner_text()
    assert no_sideways_scroll(page)
    page.screenshot(path=str(shots / "test-tab-error.png"), full_page=True)
    page.check("#presenter")  # the back row's larger type: still no scrolling sideways
    assert no_sideways_scroll(page)
    page.screenshot(path=str(shots / "test-tab-presenter.png"))

    page.fill("#test-name", "no spaces please")
    page.click("#test-save")
    assert "only letters, digits" in page.locator("#test-status").inner_text()
    assert page.errors == []
