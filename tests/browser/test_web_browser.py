"""The page in a real browser: Debian's headless Chromium driven by Playwright (helpers.browser), against a
real sandbox and the real WebServer on a free port. Screenshots go to test-output/web/.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from helpers.browser import HOSTILE_KEY, WAIT_MS, new_page
from helpers.paths import SAMPLES, TEST_OUTPUT
from helpers.sandboxes import start_sandbox
from helpers.waiting import settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def sb(browser):
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = TEST_OUTPUT / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser, server):
    page = new_page(browser)
    yield page
    page.context.close()


def card_image_loaded(page, key: str, css_class: str, width: int) -> None:
    page.wait_for_function(
        """([key, cls, width]) => {
            const card = [...document.querySelectorAll("article.card")].find(c => c.dataset.key === key);
            const img = card && card.querySelector("img." + cls);
            return Boolean(img && img.complete && img.naturalWidth === width);
        }""",
        arg=[key, css_class, width],
        timeout=WAIT_MS,
    )


def card(page, key: str):
    return page.locator("article.card").filter(has=page.get_by_role("heading", name=key, exact=True))


def test_uploaded_image_renders_beside_its_resized_copy_and_report_reaches_the_logs(sb, server, page, shots):
    page.goto(server.url)
    page.set_input_files("#file-input", str(SAMPLES / "test.jpg"))
    card_image_loaded(page, "test.jpg", "resized-img", 800)
    record = sb.wait_for_key("test.jpg", timeout=60)
    assert record.status == "success"
    test_card = card(page, "test.jpg")
    assert "1600×1200" in test_card.locator(".caption-source").inner_text()
    assert "800×600" in test_card.locator(".caption-resized").inner_text()
    assert "done" in test_card.locator(".badge").inner_text()
    assert "uploaded" in page.locator("#upload-list").inner_text()
    # the card shows the resized image only; the source is read at full size when the pair is opened
    assert test_card.locator("img").count() == 1
    page.screenshot(path=str(shots / "gallery.png"))

    page.click('.tabs [data-tab="logs"]')
    report = page.locator(
        "#log-view .log-line.platform-report", has_text=f"REPORT RequestId: {record.request_id}"
    )
    report.wait_for()
    assert "Billed Duration" in report.inner_text()
    page.screenshot(path=str(shots / "logs.png"))

    page.click('.tabs [data-tab="invocations"]')
    page.locator("#invocations-body tr.row", has_text="test.jpg").first.click()
    page.locator(".detail .timeline li").nth(4).wait_for()
    assert page.locator(".detail .timeline li").count() == 5
    page.locator(".detail .log-line.platform-report").wait_for()
    page.screenshot(path=str(shots / "invocation.png"), full_page=True)
    assert page.errors == []


def test_several_dropped_files_are_uploaded_with_progress_and_resized(sb, server, page):
    page.goto(server.url)
    files = {"dropped-a.png": (90, 60), "dropped-b.png": (60, 90)}
    payload = []
    for name, size in files.items():
        buffer = io.BytesIO()
        Image.new("RGB", size, (40, 160, 90)).save(buffer, "PNG")
        payload.append([name, list(buffer.getvalue())])
    # What the browser does when files are dropped on the zone: a drop event carrying them.
    page.evaluate(
        """(files) => {
        const data = new DataTransfer();
        for (const [name, bytes] of files) data.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
        document.querySelector("#dropzone").dispatchEvent(
            new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
    }""",  # noqa: E501 (JavaScript run in the browser)
        payload,
    )
    for name, (width, _) in files.items():
        card_image_loaded(page, name, "resized-img", width // 2)
        row = page.locator("#upload-list li", has_text=name)
        assert "uploaded" in row.inner_text()
        assert row.locator("progress").evaluate("p => p.value") == 1
    assert page.errors == []


def test_full_size_pair_opens_on_click(sb, server, page):
    sb.s3.upload_file(str(SAMPLES / "holiday photo.jpg"), sb.config.source_bucket, "holiday photo.jpg")
    page.goto(server.url)
    card_image_loaded(page, "holiday photo.jpg", "resized-img", 512)
    card(page, "holiday photo.jpg").locator("button.pair").click()
    dialog = page.locator("#pair-dialog")
    dialog.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#pair-resized').naturalWidth === 512")
    page.wait_for_function("() => document.querySelector('#pair-source').naturalWidth === 1024")
    assert page.locator("#pair-title").inner_text() == "holiday photo.jpg"
    page.click("#pair-close")
    dialog.wait_for(state="hidden")
    assert page.errors == []


def test_hostile_key_is_shown_as_text_and_runs_nothing(sb, server, page, shots):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(buffer, "JPEG")
    sb.s3.put_object(Bucket=sb.config.source_bucket, Key=HOSTILE_KEY, Body=buffer.getvalue())
    page.goto(server.url)
    card_image_loaded(page, HOSTILE_KEY, "resized-img", 20)
    assert card(page, HOSTILE_KEY).locator("h3").text_content() == HOSTILE_KEY
    page.click('.tabs [data-tab="logs"]')
    page.locator("#log-view .log-line", has_text=HOSTILE_KEY).first.wait_for()
    page.click('.tabs [data-tab="invocations"]')
    page.locator("#invocations-body td.key-cell", has_text=HOSTILE_KEY).first.wait_for()
    # nothing the key spelled became an element
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("() => document.querySelectorAll('[onerror]').length") == 0
    assert page.errors == []


def test_saving_memory_in_the_configuration_tab_changes_the_function(sb, server, page):
    page.goto(server.url + "#configuration")
    memory = page.locator("#cfg-memory")
    page.wait_for_function("() => document.querySelector('#cfg-memory').value === '128'")
    assert (
        page.locator("#cfg-settings tr", has_text="RESIZE_SCALE")
        .locator("input")
        .get_attribute("placeholder")
        == "0.5"
    )
    try:
        memory.fill("256")
        page.select_option("#cfg-env-OUTPUT_FORMAT", "PNG")
        page.click("#cfg-save")
        page.locator("#config-status", has_text="cold start").wait_for()
        assert sb.function.memory_size == 256
        assert sb.function.environment == {"OUTPUT_FORMAT": "PNG"}
        memory.fill("64")
        page.click("#cfg-save")
        page.locator("#config-status.error-text", has_text="Memory").wait_for()
        assert sb.function.memory_size == 256
    finally:
        sb.update_function_configuration(memory_size=128, environment={})
    assert page.errors == []


BURST = 120


def wait_live(page) -> None:
    page.wait_for_function("() => document.querySelector('#live').textContent === 'live'")


def test_a_page_open_through_a_burst_shows_every_image_without_a_reload(sb, server, page):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(server.url)
    wait_live(page)
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (90, 60, 160)).save(buffer, "JPEG")
    keys = [f"class/{i:03d}.jpg" for i in range(BURST)]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda key: sb.s3.put_object(Bucket=sb.config.source_bucket, Key=key, Body=buffer.getvalue()),
                keys,
            )
        )
    settle(sb)
    outputs = {}
    for record in sb.invocations():
        for result in (
            json.loads(record.result["body"]).get("results", []) if record.status == "success" else []
        ):
            if result["key"].startswith("class/"):
                outputs[result["key"]] = result["outputKey"]
    assert set(outputs) == set(keys)
    # The newest cards arrived on their own; the older ones are read as the reader scrolls down.
    page.wait_for_function(
        """(n) => {
        window.scrollTo(0, document.body.scrollHeight);
        return [...document.querySelectorAll("article.card.status-done")]
            .filter(c => c.dataset.key.startsWith("class/")).length === n;
    }""",
        arg=BURST,
        polling=200,
    )
    shown = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll("article.card")]
        .filter(c => c.dataset.key.startsWith("class/"))
        .map(c => [c.dataset.key, [c.querySelector(".caption-resized").title,
                                   c.querySelector(".caption-resized").textContent]]))""")
    assert {key: title for key, (title, _) in shown.items()} == outputs
    assert all("40×30" in text for _, text in shown.values())
    first_reads = [url for url in requests if "/api/gallery" in url and "before=" not in url]
    assert len(first_reads) == 1  # the list was read once; the burst came through the change feed
    assert not [url for url in requests if "/api/state" in url]  # nothing polls
    # Back at the top, the thumbnails on screen are the resized images.
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_function(
        """() => {
        const onScreen = [...document.querySelectorAll("article.card")].filter(c => {
            const box = c.getBoundingClientRect();
            return box.bottom > 0 && box.top < window.innerHeight;
        });
        return onScreen.length > 0 && onScreen.every(c => {
            const img = c.querySelector("img.resized-img");
            return img && img.complete && img.naturalWidth === 40;
        });
    }""",
        polling=200,
    )
    assert page.errors == []


def test_tabs_of_one_browser_share_one_change_feed_and_a_tab_without_workers_opens_its_own(
    browser, sb, server
):
    streams = server.app.extensions["sandbox_web_streams"]
    context = browser.new_context()
    try:
        tabs = [context.new_page() for _ in range(3)]
        before = streams.opened
        for tab in tabs:
            tab.goto(server.url)
            wait_live(tab)
        assert streams.opened - before == 1
        sb.s3.upload_file(str(SAMPLES / "test.jpg"), sb.config.source_bucket, "seen by every tab.jpg")
        for tab in tabs:
            card_image_loaded(tab, "seen by every tab.jpg", "resized-img", 800)
    finally:
        context.close()
    lone = browser.new_context()
    try:
        lone.add_init_script("delete window.SharedWorker")
        tab = lone.new_page()
        before = streams.opened
        tab.goto(server.url)
        wait_live(tab)
        assert streams.opened - before == 1
        sb.s3.upload_file(str(SAMPLES / "test.jpg"), sb.config.source_bucket, "seen without a worker.jpg")
        card_image_loaded(tab, "seen without a worker.jpg", "resized-img", 800)
    finally:
        lone.close()


def test_cost_tab_projects_a_month_from_warm_invocations_with_a_cold_share_the_reader_sets(sb, server, page):
    sb.s3.upload_file(str(SAMPLES / "test.jpg"), sb.config.source_bucket, "cost-tab.jpg")
    sb.wait_for_key("cost-tab.jpg", timeout=60)
    page.goto(server.url + "#cost")
    price = page.locator("#cost-projection .stat", has_text="Price per month").locator(".stat-value")
    price.wait_for()
    assert "inflated" in page.locator("#cost-caveat").inner_text()
    assert "Init Duration measured here" in page.locator("#cost-init").inner_text()
    before = price.inner_text()
    page.fill("#cost-cold", "50")
    page.wait_for_function(
        "(before) => document.querySelector('#cost-projection .stat:nth-child(4) .stat-value')"
        ".textContent !== before",
        arg=before,
    )
    assert "50.00 %" in page.locator("#cost-projection").inner_text()
    assert page.errors == []
