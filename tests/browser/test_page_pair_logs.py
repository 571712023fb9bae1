"""A gallery pair's own log lines (issue 14 item 6): opening a pair shows, beside the two images, the
START ... END, REPORT lines of the invocations that made it - every attempt, a rejected image's ERROR line,
a redrive - read when the pair is opened and never for the list. Pure units, the route through Flask's
test client over a real sandbox, and the page in headless Chromium."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from PIL import Image

from helpers.browser import new_page
from helpers.paths import SAMPLES, TEST_OUTPUT
from helpers.sandboxes import start_sandbox
from helpers.waiting import wait_for_record
from sandbox.lambda_.invocation import InvocationRecord
from web.app import create_app
from web.attempt_logs import shortened
from web.pair_logs import pair_records

SOURCE = "source-image-bucket123"
PORT = 8000
BROKEN_SETTING = {"RESIZE_SCALE": "2"}  # refused by the handler at INIT: every attempt fails


# -- which invocations make a pair -----------------------------------------------------------------------
def _record(request_id, key, attempt=1, trigger="s3", event_name="ObjectCreated:Put"):
    event = {
        "Records": [{"eventName": event_name, "s3": {"bucket": {"name": SOURCE}, "object": {"key": key}}}]
    }
    return InvocationRecord(
        request_id=request_id,
        function_name="ImageResizeLambda",
        event=event,
        attempt=attempt,
        trigger=trigger,
        source="aws:s3",
        subject={"bucket": SOURCE, "key": key},
    )


def test_a_pair_is_made_by_its_newest_upload_its_retries_and_what_was_invoked_about_it_since():
    first_upload = _record("old", "cat.jpg")
    other = _record("dog", "dog.jpg")
    upload, retry = _record("new", "cat.jpg"), _record("new", "cat.jpg", attempt=2)
    late_retry_of_the_old_upload = _record("old", "cat.jpg", attempt=2)
    redrive = _record("again", "cat.jpg", trigger="redrive")
    records = [first_upload, other, upload, retry, late_retry_of_the_old_upload, redrive]
    assert pair_records(records, SOURCE, "cat.jpg") == [upload, retry, redrive]
    assert pair_records(records, SOURCE, "dog.jpg") == [other]
    assert pair_records(records, "another-bucket", "cat.jpg") == []


def test_an_object_no_upload_invoked_has_no_attempts():
    test_event = _record("by-hand", "never-uploaded.jpg", trigger="invoke")
    removed = _record("gone", "deleted.jpg", event_name="ObjectRemoved:Delete")
    assert pair_records([test_event, removed], SOURCE, "never-uploaded.jpg") == []
    assert pair_records([test_event, removed], SOURCE, "deleted.jpg") == []


def test_a_flood_of_lines_keeps_the_first_and_the_last_and_says_how_many_are_left_out():
    lines = [{"seq": n} for n in range(1000)]
    kept, left_out, after = shortened(lines, limit=400)
    assert len(kept) == 400 and left_out == 600 and after == 100
    assert kept[0]["seq"] == 0 and kept[after - 1]["seq"] == 99 and kept[after]["seq"] == 700
    assert kept[-1]["seq"] == 999  # REPORT, at the end, is always kept
    assert shortened(lines[:5], limit=400) == (lines[:5], 0, 5)


# -- the route over a real sandbox --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sb():
    """One retry (not two) keeps the failing cases short; the page shows however many there are."""
    sandbox = start_sandbox(maximum_retry_attempts=1)
    yield sandbox
    sandbox.stop()


class LocalClient(FlaskClient):
    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", f"http://127.0.0.1:{PORT}")
        return super().open(*args, **kwargs)


@pytest.fixture(scope="module")
def client(sb):
    app = create_app(sb, {"WEB_PORT": PORT})
    app.test_client_class = LocalClient
    return app.test_client()


def pair(client, key: str) -> dict:
    response = client.get("/api/gallery/logs", query_string={"key": key})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def platforms(attempt: dict) -> list[str]:
    return [line["platform"] for line in attempt["logs"] if line["platform"]]


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_a_resized_pairs_lines_run_from_start_to_report_as_in_cloudwatch(sb, client):
    sb.s3.put_object(Bucket=SOURCE, Key="pair lines.jpg", Body=jpeg())
    record = sb.wait_for_key("pair lines.jpg", timeout=60)
    assert record.status == "success"
    [attempt] = pair(client, "pair lines.jpg")["attempts"]
    assert (attempt["request_id"], attempt["attempt"], attempt["status"]) == (record.request_id, 1, "success")
    assert attempt["log_group"] == "/aws/lambda/ImageResizeLambda"
    own = [line for line in attempt["logs"] if line["request_id"] == record.request_id]
    assert own[0]["message"].startswith(f"START RequestId: {record.request_id}")
    assert [line["platform"] for line in own[-2:]] == ["END", "REPORT"]
    assert "Billed Duration" in own[-1]["message"]
    assert any(
        "pair lines.jpg" in line["message"] for line in own if not line["platform"]
    )  # the handler's own
    # the same lines, INIT phase included, as the Invocations tab's detail of that attempt
    detail = client.get(f"/api/invocations/{record.request_id}/1").get_json()
    assert attempt["logs"] == detail["logs"]
    assert (platforms(attempt)[0] == "INIT_START") == record.cold_start


def test_a_rejected_image_shows_its_error_line(sb, client):
    sb.s3.put_object(Bucket=SOURCE, Key="not a picture.jpg", Body=b"plain text, not a JPEG")
    sb.wait_for_key("not a picture.jpg", timeout=60)
    [attempt] = pair(client, "not a picture.jpg")["attempts"]
    errors = [line for line in attempt["logs"] if line["kind"] == "error"]
    assert (
        errors and "not a picture.jpg" in errors[0]["message"] and errors[0]["message"].startswith("[ERROR]")
    )
    assert platforms(attempt)[-1] == "REPORT"


def test_every_attempt_has_its_own_lines_and_a_redrive_follows_them(sb, client):
    sb.update_function_configuration(environment=BROKEN_SETTING)
    try:
        sb.s3.put_object(Bucket=SOURCE, Key="retried.jpg", Body=jpeg())
        failed = wait_for_record(
            sb,
            lambda r: r.subject.get("key") == "retried.jpg" and r.status == "dead-lettered",
            what="retried.jpg's event to fail every attempt",
        )
    finally:
        sb.update_function_configuration(environment={})
    attempts = pair(client, "retried.jpg")["attempts"]
    assert [(a["attempt"], a["retry"], a["request_id"]) for a in attempts] == [
        (1, 0, failed.request_id),
        (2, 1, failed.request_id),
    ]
    assert attempts[0]["status"] == "error" and attempts[0]["will_retry"]
    assert attempts[1]["status"] == "dead-lettered" and not attempts[1]["will_retry"]
    for attempt in attempts:
        assert "RESIZE_SCALE" in attempt["error_message"]
        # each attempt its own environment (INIT failed: it was discarded) and its own START ... REPORT
        assert platforms(attempt) == ["INIT_START", "INIT_REPORT", "START", "END", "REPORT"]
        assert "Status: error" in next(
            line["message"] for line in attempt["logs"] if line["platform"] == "INIT_REPORT"
        )
    assert attempts[0]["log_stream"] != attempts[1]["log_stream"]

    letter = next(m for m in sb.dead_letters() if m["request_id"] == failed.request_id)
    [redriven] = sb.redrive(message_ids=[letter["message_id"]])
    wait_for_record(sb, lambda r: r.id == redriven.id and r.final, what="the redriven event to run")
    after = pair(client, "retried.jpg")["attempts"]
    assert after[:2] == attempts
    assert (after[2]["trigger"], after[2]["status"], after[2]["request_id"]) == (
        "redrive",
        "success",
        redriven.request_id,
    )
    assert "START" in platforms(after[2]) and platforms(after[2])[-1] == "REPORT"


def test_an_object_never_invoked_has_no_lines_and_the_route_wants_a_key(client):
    assert pair(client, "never uploaded.jpg") == {
        "bucket": SOURCE,
        "key": "never uploaded.jpg",
        "attempts": [],
        "attempts_left_out": 0,
        "source_object": None,
        "resized_object": None,
    }
    missing = client.get("/api/gallery/logs")
    assert missing.status_code == 400 and "key" in missing.get_json()["error"]


def test_the_pair_route_answers_only_at_the_pages_own_host(client):
    response = client.get(
        "/api/gallery/logs", query_string={"key": "x.jpg"}, headers={"Host": f"evil.example:{PORT}"}
    )
    assert response.status_code == 400 and "DNS-rebinding" in response.get_json()["error"]


def test_the_gallerys_list_carries_no_log_lines(sb, client):
    items = client.get("/api/gallery").get_json()["items"]
    assert items and not any("logs" in item for item in items)


# -- the page in headless Chromium ------------------------------------------------------------------------
@pytest.fixture
def page(browser, server):
    page = new_page(browser)
    page.pair_reads = []
    page.on(
        "request", lambda request: "/api/gallery/logs" in request.url and page.pair_reads.append(request.url)
    )
    yield page
    page.context.close()


def card(page, key: str):
    return page.locator(f'article.card[data-key="{key}"]')


def open_attempts(page):
    return page.locator("#pair-dialog #pair-attempts section.attempt")


@pytest.mark.browser
@pytest.mark.slow
def test_an_opened_pair_shows_its_start_to_report_lines_beside_the_two_images(sb, server, page):
    sb.s3.upload_file(str(SAMPLES / "test.jpg"), SOURCE, "side by side.jpg")
    record = sb.wait_for_key("side by side.jpg", timeout=60)
    page.goto(server.url)
    page.wait_for_function("""() => {
        const img = document.querySelector('article.card[data-key="side by side.jpg"] img.resized-img');
        return Boolean(img && img.complete && img.naturalWidth === 800);
    }""")
    assert page.pair_reads == []  # the cards read no log lines

    card(page, "side by side.jpg").locator("button.pair").click()
    lines = page.locator("#pair-attempts .log-line")
    report = lines.filter(has_text=f"REPORT RequestId: {record.request_id}")
    report.wait_for()
    assert "Billed Duration" in report.inner_text()
    assert lines.filter(has_text=f"START RequestId: {record.request_id}").count() == 1
    assert lines.filter(has_text=f"END RequestId: {record.request_id}").count() == 1
    page.wait_for_function(
        "() => document.querySelector('#pair-resized').naturalWidth === 800"
        " && document.querySelector('#pair-source').naturalWidth === 1600"
    )
    # under the two images and their five stages, scrolling on its own (the projector layout)
    images = page.locator("#pair-dialog .pair-images").bounding_box()
    stages = page.locator("#pair-stages .timeline").bounding_box()
    logs = page.locator("#pair-logs").bounding_box()
    assert (
        stages["y"] >= images["y"] + images["height"] - 1 and logs["y"] >= stages["y"] + stages["height"] - 1
    )
    assert open_attempts(page).count() == 1 and "attempt 1" in open_attempts(page).locator("h4").inner_text()
    assert page.pair_reads and all("key=side%20by%20side.jpg" in url for url in page.pair_reads)
    (TEST_OUTPUT / "web").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(TEST_OUTPUT / "web" / "pair-logs.png"))

    # "Open in the log viewer": the Logs tab, filtered to that request
    open_attempts(page).locator("button", has_text="Open in the log viewer").click()
    page.locator("#pair-dialog").wait_for(state="hidden")
    page.locator("#tab-logs").wait_for(state="visible")
    assert page.locator("#log-filter").input_value() == record.request_id
    page.locator("#log-view .log-line.platform-report", has_text=record.request_id).wait_for()
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.slow
def test_a_failed_pair_shows_its_error_line_beside_the_original(sb, server, page):
    sb.s3.put_object(Bucket=SOURCE, Key="broken <b>.jpg", Body=b"this is text, not a JPEG")
    sb.wait_for_key("broken <b>.jpg", timeout=60)
    page.goto(server.url)
    card(page, "broken <b>.jpg").locator(".badge", has_text="failed").wait_for()
    card(page, "broken <b>.jpg").get_by_role("button", name="Log lines").click()
    error = page.locator("#pair-attempts .log-line.kind-error").first
    error.wait_for()
    assert "[ERROR]" in error.inner_text() and "broken <b>.jpg" in error.inner_text()
    assert "not an image" in page.locator("#pair-resized-caption").inner_text()
    assert page.locator("#pair-status").inner_text() == "failed"
    assert page.locator("#pair-attempts b").count() == 0  # the key stayed text
    assert len(page.pair_reads) == 1
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.slow
def test_retries_appear_in_the_open_pair_as_they_happen(sb, server, page):
    page.goto(server.url)
    page.wait_for_function("() => document.querySelector('#live').textContent === 'live'")
    sb.update_function_configuration(environment=BROKEN_SETTING)
    try:
        sb.s3.put_object(Bucket=SOURCE, Key="retried live.jpg", Body=jpeg())
        # Opened while the retry waits (a second here, a minute on AWS): the second attempt, when it has
        # run, must appear in the open pair without the reader doing anything.
        card(page, "retried live.jpg").locator(".badge", has_text="retrying").wait_for()
        card(page, "retried live.jpg").locator("button.pair").click()
        last = open_attempts(page).nth(1)
        last.locator(".badge", has_text="dead-lettered").wait_for()  # read again as the pair changed
        wait_for_record(
            sb,
            lambda r: r.subject.get("key") == "retried live.jpg" and r.status == "dead-lettered",
            what="the event to fail both attempts",
        )
    finally:
        sb.update_function_configuration(environment={})
    assert open_attempts(page).count() == 2
    first = open_attempts(page).nth(0)
    assert "attempt 1" in first.locator("h4").inner_text()
    assert "attempt 2 (retry 1)" in last.locator("h4").inner_text()
    assert "retries the event" in first.inner_text()
    for attempt in (first, last):
        assert "RESIZE_SCALE" in attempt.locator(".attempt-error").inner_text()
        assert attempt.locator(".log-line.platform-start").count() == 1
        assert attempt.locator(".log-line.platform-report").count() == 1
    assert page.locator("#pair-status").inner_text() == "failed"
    assert page.errors == []
