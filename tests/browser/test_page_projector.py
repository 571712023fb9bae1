"""The page as a teacher projects it (1280x720, 1024x768): empty states on a fresh sandbox, a pair view
that shows both images whole and the guide's five stages without scrolling, every function and trigger
first-class (Function and Trigger columns, every log group, the Functions list), honest numbers (sizes from
S3, the cost projected at the configured memory only). Real sandbox, real WebServer, headless Chromium;
screenshots in test-output/projector/. The routes through Flask's test client: local-only, escaped data.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from helpers.browser import HOSTILE_KEY, new_page
from helpers.paths import SAMPLES, TEST_OUTPUT
from helpers.processes import run_command
from helpers.sandboxes import start_sandbox
from helpers.waiting import wait_for_record
from sandbox.guide.example_setups import set_up
from sandbox.lambda_.invocation import InvocationRecord
from web.app import create_app
from web.stages import event_time, guide_stages

PORT = 8000
PROJECTOR = {"width": 1280, "height": 720}
QUEUED_BUCKET = "queued-image-bucket123"  # examples/queue: S3 -> SQS -> ImageResizeQueueLambda
API_FUNCTION = "ImagesApiLambda"  # examples/api: API Gateway -> ImagesApiLambda
QUEUE_FUNCTION = "ImageResizeQueueLambda"


# -- the stages, as units -------------------------------------------------------------------------------
def _record(**fields):
    base = dict(
        request_id="r-1",
        function_name="ImageResizeLambda",
        event={},
        trigger="s3",
        source="aws:s3",
        detected_at=100.0,
        allocated_at=100.5,
        started_at=100.5,
        finished_at=100.6,
        logged_at=100.61,
        responded_at=100.62,
        duration_ms=100.0,
        billed_duration_ms=100,
        status="success",
    )
    base.update(fields)
    return InvocationRecord(**base)


def test_the_five_stages_say_whether_a_cold_start_or_a_warm_environment_ran_it():
    cold = guide_stages(_record(cold_start=True, init_duration_ms=400.0, environment_id="e1"), 2)
    assert [s["stage"] for s in cold] == [
        "Event occurs",
        "Event detected",
        "Lambda invoked in an execution environment",
        "Code runs",
        "Response / result",
    ]
    assert cold[2]["ms"] == 400.0 and cold[2]["note"] == "Cold start: new environment e1, INIT 400 ms."
    assert cold[1]["ms"] == 100.0  # 500 ms from detection to the environment, 400 of them INIT
    warm = guide_stages(_record(cold_start=False, environment_id="e7"), 2)
    assert warm[2]["note"] == "Warm: environment e7 was reused (no INIT)."


def test_the_stages_follow_the_trigger_and_an_async_retry_says_which_attempt():
    retry = guide_stages(_record(attempt=2, invocation_type="Event"), 2)
    assert retry[1]["note"].startswith("S3 invoked it asynchronously, attempt 2 of 3")
    api = guide_stages(_record(trigger="apigateway", invocation_type="RequestResponse"), 2)
    assert api[1]["note"].startswith("API Gateway invoked it synchronously")
    assert "attempt" not in api[1]["note"]
    polled = guide_stages(_record(trigger="sqs", invocation_type="RequestResponse"), 2)
    assert "poller" in polled[1]["note"]


def test_the_result_stage_names_what_the_handler_wrote():
    body = {"results": [{"outputKey": "resized-test.jpg", "outputBucket": "out", "bytes": 31 * 1024}]}
    stages = guide_stages(_record(result={"statusCode": 200, "body": json.dumps(body)}), 2)
    assert stages[4]["note"] == "resized-test.jpg written, 31.0 KB, to s3://out"


def test_event_time_is_read_from_s3_sqs_and_api_events():
    assert event_time({"Records": [{"eventTime": "1970-01-01T00:00:10.000Z"}]}) == 10.0
    assert event_time({"Records": [{"attributes": {"SentTimestamp": "12000"}}]}) == 12.0
    assert event_time({"requestContext": {"timeEpoch": 13000}}) == 13.0
    assert event_time({"nothing": "here"}) is None and event_time("not a dict") is None


# -- a sandbox, its page, a browser ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def client(sb):
    app = create_app(sb, {"WEB_PORT": PORT})
    return app.test_client()


def get(client, path, **headers):
    return client.get(path, base_url=f"http://127.0.0.1:{PORT}", headers=headers)


@pytest.fixture(scope="module")
def shots():
    folder = TEST_OUTPUT / "projector"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser, server):
    page = new_page(browser)
    page.set_viewport_size(PROJECTOR)
    yield page
    assert page.errors == []
    page.context.close()


@pytest.fixture(scope="module")
def examples(sb):
    """examples/api and examples/queue set up, as `run_local.py --example api --example queue` does, one
    invocation through each, and one image through the guide's S3 trigger."""
    set_up(sb, ["api", "queue"])
    [api_id] = [api["ApiId"] for api in sb.client("apigatewayv2").get_apis()["Items"]]
    sb.s3.put_object(Bucket=QUEUED_BUCKET, Key="queued.jpg", Body=(SAMPLES / "test.jpg").read_bytes())
    url = f"{sb.endpoint_url}/_aws/execute-api/{api_id}/images"
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.status == 200
    queued = wait_for_record(
        sb,
        lambda r: r.function_name == QUEUE_FUNCTION and r.final and r.status == "success",
        what="the queued image to be resized through SQS",
    )
    api = wait_for_record(sb, lambda r: r.function_name == API_FUNCTION and r.final, what="the API request")
    return {"queued": queued, "api": api}


# -- empty states (first: the sandbox is fresh) ------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_a_fresh_sandbox_shows_an_empty_state_on_every_tab(page, server, shots):
    page.goto(server.url)
    page.locator("#gallery-empty").wait_for(state="visible")
    assert "No images" in page.locator("#gallery-empty").inner_text()
    page.screenshot(path=str(shots / "empty-gallery.png"))
    page.locator('.tabs [data-tab="invocations"]').click()
    page.locator("#invocations-empty").wait_for(state="visible")
    page.screenshot(path=str(shots / "empty-invocations.png"))
    page.locator('.tabs [data-tab="logs"]').click()
    page.wait_for_function("() => document.querySelector('#log-status').textContent === 'No events yet.'")
    page.locator('.tabs [data-tab="cost"]').click()
    page.locator("#cost-basis", has_text="needs one finished invocation").wait_for()
    page.locator('.tabs [data-tab="monitor"]').click()
    page.locator("#monitor-empty", has_text="No invocations in this range yet").wait_for()
    page.locator('.tabs [data-tab="dead-letters"]').click()
    page.locator("#dlq-empty").wait_for(state="visible")


@pytest.mark.browser
@pytest.mark.slow
def test_a_fresh_sandboxs_empty_tabs_say_so_where_the_class_looks(page, server, shots):
    page.goto(server.url + "#logs")
    page.wait_for_function("() => document.querySelector('#log-status').textContent === 'No events yet.'")
    said = page.eval_on_selector("#log-view", "view => getComputedStyle(view, '::after').content")
    assert "No events in /aws/lambda/ImageResizeLambda yet." in said  # in the viewer, not only beside it
    page.screenshot(path=str(shots / "empty-logs.png"))
    page.locator('.tabs [data-tab="cost"]').click()
    page.locator("#cost-basis", has_text="needs one finished invocation").wait_for()
    page.screenshot(path=str(shots / "empty-cost.png"))
    page.locator('.tabs [data-tab="dead-letters"]').click()
    page.locator("#dlq-empty").wait_for(state="visible")
    page.screenshot(path=str(shots / "empty-dead-letters.png"))


# -- the pair view ------------------------------------------------------------------------------------------
def within(box, viewport) -> bool:
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= viewport["width"] + 0.5
        and box["y"] + box["height"] <= viewport["height"] + 0.5
    )


def shown_size(page, selector: str) -> tuple[float, float]:
    """The size the image's pixels take on screen (object-fit: contain inside its box)."""
    return tuple(
        page.eval_on_selector(
            selector,
            """img => {
        const box = img.getBoundingClientRect();
        const fit = getComputedStyle(img).objectFit === "contain"
            ? Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight) : 1;
        return [img.naturalWidth * fit, img.naturalHeight * fit];
    }""",
        )
    )


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize(
    "viewport", [PROJECTOR, {"width": 1024, "height": 768}], ids=["1280x720", "1024x768"]
)
def test_the_pair_view_shows_both_images_whole_and_the_five_stages_without_scrolling(
    sb, page, server, shots, viewport
):
    key = "projector.jpg"
    if not any(r.subject.get("key") == key for r in sb.records.all()):
        sb.s3.upload_file(str(SAMPLES / "test.jpg"), sb.config.source_bucket, key)
    record = sb.wait_for_key(key, timeout=60)
    page.set_viewport_size(viewport)
    page.goto(server.url)
    page.locator(f'article.card[data-key="{key}"] button.pair').click()
    page.wait_for_function(
        "() => document.querySelector('#pair-resized').naturalWidth === 800"
        " && document.querySelector('#pair-source').naturalWidth === 1600"
    )
    steps = page.locator("#pair-stages .timeline .step")
    steps.first.wait_for()
    assert steps.count() == 5
    for selector in ("#pair-source", "#pair-resized"):
        assert within(page.locator(selector).bounding_box(), viewport), selector
    for i in range(5):
        assert within(steps.nth(i).bounding_box(), viewport), steps.nth(i).inner_text()
    source, resized = shown_size(page, "#pair-source"), shown_size(page, "#pair-resized")
    assert abs(source[0] - resized[0]) < 1 and source[0] > viewport["width"] * 0.25  # same width, large
    # sizes from S3, and the stages say what happened here
    captions = " ".join(page.locator(f"#pair-{side}-caption").inner_text() for side in ("source", "resized"))
    assert "1600×1200 · 222 KB" in captions and "800×600 · 31 KB" in captions  # test.jpg: 227,419 bytes
    stage_text = steps.all_inner_texts()
    assert "attempt 1 of 3" in stage_text[1]
    assert ("Cold start" in stage_text[2]) == bool(record.cold_start)
    assert "resized-projector.jpg written" in stage_text[4]
    # START ... REPORT shown; INIT and SDK lines folded away
    lines = page.locator("#pair-attempts .log-view > .log-line")
    lines.filter(has_text=f"REPORT RequestId: {record.request_id}").wait_for()
    assert lines.filter(has_text=f"START RequestId: {record.request_id}").is_visible()
    assert (
        page.locator("#pair-attempts .log-line.platform-init_start").count() == 0
        or not page.locator("#pair-attempts .log-line.platform-init_start").first.is_visible()
    )
    assert (
        not page.locator("#pair-attempts .log-line", has_text="Found credentials").first.is_visible()
        if page.locator("#pair-attempts .log-line", has_text="Found credentials").count()
        else True
    )
    page.screenshot(path=str(shots / f"pair-{viewport['width']}x{viewport['height']}.png"))
    # 100 %: the images at their own size (each frame scrolls)
    page.locator("#pair-zoom").click()
    assert page.eval_on_selector("#pair-source", "img => img.getBoundingClientRect().width") == 1600
    page.locator("#pair-zoom").click()


@pytest.mark.browser
@pytest.mark.slow
def test_presenter_setting_enlarges_the_type_and_is_remembered(page, server, shots):
    page.goto(server.url)
    before = page.eval_on_selector("html", "h => parseFloat(getComputedStyle(h).fontSize)")
    page.locator("#presenter").check()
    after = page.eval_on_selector("html", "h => parseFloat(getComputedStyle(h).fontSize)")
    assert after >= before * 1.2
    page.reload()
    assert page.eval_on_selector("html", "h => h.classList.contains('presenter')")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize(
    "viewport, presenter",
    [(PROJECTOR, False), (PROJECTOR, True), ({"width": 1024, "height": 768}, False)],
    ids=["1280x720", "1280x720-presenter", "1024x768"],
)
def test_every_tab_is_on_screen_without_scrolling_the_tab_bar(page, server, shots, viewport, presenter):
    page.set_viewport_size(viewport)
    page.goto(server.url)
    if presenter:
        page.locator("#presenter").check()
    tabs = page.locator(".tabs a[role=tab]")
    assert tabs.count() >= 10
    for i in range(tabs.count()):
        box = tabs.nth(i).bounding_box()
        assert box is not None and within(box, viewport), tabs.nth(i).inner_text()
    name = f"tabs-{viewport['width']}x{viewport['height']}{'-presenter' if presenter else ''}.png"
    page.screenshot(path=str(shots / name))
    if presenter:
        page.locator("#presenter").uncheck()


# -- every function and trigger -----------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_invocations_name_the_function_and_the_trigger_of_sqs_and_api_invocations(
    examples, page, server, shots
):
    page.goto(server.url + "#invocations")
    queued = page.locator(f'#invocations-body tr.row[data-request-id="{examples["queued"].request_id}"]')
    api = page.locator(f'#invocations-body tr.row[data-request-id="{examples["api"].request_id}"]')
    queued.wait_for()
    api.wait_for()
    assert QUEUE_FUNCTION in queued.inner_text() and "SQS batch" in queued.inner_text()
    assert "polled" in queued.inner_text() and "(not an S3 event)" not in queued.inner_text()
    assert API_FUNCTION in api.inner_text() and "API request" in api.inner_text()
    assert "sync" in api.inner_text()
    page.screenshot(path=str(shots / "invocations-functions-triggers.png"))
    api.click()  # its detail: the five stages say who invoked it, and how
    page.locator("tr.detail-row .timeline .step").nth(1).wait_for()
    detected = page.locator("tr.detail-row .timeline .step").nth(1).inner_text()
    assert "API Gateway invoked it synchronously" in detected
    page.locator("#inv-filter-function").select_option(API_FUNCTION)
    queued.wait_for(state="detached")
    assert api.is_visible()
    page.locator("#inv-filter-function").select_option("")
    page.locator("#inv-filter-trigger").select_option("sqs")
    api.wait_for(state="detached")
    assert queued.is_visible()


@pytest.mark.browser
@pytest.mark.slow
def test_open_in_the_log_viewer_shows_an_api_invocations_own_lines(examples, page, server, shots):
    record = examples["api"]
    page.goto(server.url + "#invocations")
    page.locator(f'#invocations-body tr.row[data-request-id="{record.request_id}"]').click()
    page.locator("tr.detail-row button", has_text="Open in the log viewer").click()
    page.locator("#tab-logs").wait_for(state="visible")
    page.locator("#log-view .log-line.platform-report", has_text=record.request_id).wait_for()
    assert page.locator("#log-group").input_value() == f"/aws/lambda/{API_FUNCTION}"
    assert "No events match" not in page.locator("#log-status").inner_text()
    page.screenshot(path=str(shots / "logs-api-request.png"))


@pytest.mark.browser
@pytest.mark.slow
def test_a_sandbox_with_several_functions_opens_on_their_list(examples, page, server, shots):
    page.goto(server.url)
    rows = page.locator("#functions-body tr")
    rows.first.wait_for()
    assert page.locator("h1").inner_text() == "Local Lambda sandbox"
    names = [rows.nth(i).get_attribute("data-function-name") for i in range(rows.count())]
    assert names[0] == "ImageResizeLambda" and {API_FUNCTION, QUEUE_FUNCTION} <= set(names)
    queue_row = page.locator(f'#functions-body tr[data-function-name="{QUEUE_FUNCTION}"]')
    assert "128 MB" in queue_row.inner_text() and "SQS queue" in queue_row.inner_text()
    page.screenshot(path=str(shots / "functions.png"))
    queue_row.locator("button.link-button").click()
    page.locator("#tab-logs").wait_for(state="visible")
    page.locator("#log-view .log-line.platform-report").first.wait_for()
    assert page.locator("#log-group").input_value() == f"/aws/lambda/{QUEUE_FUNCTION}"


@pytest.mark.browser
@pytest.mark.slow
def test_the_monitor_tab_graphs_the_function_picked(sb, examples, page, server, shots):
    page.goto(server.url + "#monitor")
    page.locator(f'#mon-function option[value="{QUEUE_FUNCTION}"]').wait_for(state="attached")
    names = page.eval_on_selector_all("#mon-function option", "options => options.map(o => o.value)")
    assert names[0] == "ImageResizeLambda" and {API_FUNCTION, QUEUE_FUNCTION} <= set(names)
    page.select_option("#mon-function", QUEUE_FUNCTION)
    page.locator("#mon-status", has_text=f"{QUEUE_FUNCTION}: ").wait_for()
    ran = [r for r in sb.invocations() if r.function_name == QUEUE_FUNCTION and r.billed_duration_ms]
    assert ran and page.get_attribute('#monitor-graphs [data-graph="invocations"]', "data-total") == str(
        len(ran)
    )
    page.screenshot(path=str(shots / "monitor-queue-function.png"))


@pytest.mark.browser
@pytest.mark.slow
def test_configuration_lists_every_functions_environments_and_says_the_cpu_share_plainly(
    examples, page, server, shots
):
    page.goto(server.url + "#configuration")
    page.locator("#cfg-environments td.fn-cell", has_text=QUEUE_FUNCTION).first.wait_for()
    hint = page.locator("#cfg-cpu-hint").inner_text()
    assert "% of one vCPU (AWS gives 128 MB that share); this machine has" in hint
    box = page.locator("#cfg-full-cpu").bounding_box()
    label = page.locator("label.checkbox span").bounding_box()
    assert abs((box["y"] + box["height"] / 2) - (label["y"] + label["height"] / 2)) < 8  # on one line
    page.locator("#cfg-triggers tr").first.wait_for()
    assert page.evaluate(BROKEN_WORDS, "#cfg-triggers td:not(.mono), #cfg-environments td") == []
    page.screenshot(path=str(shots / "configuration.png"), full_page=True)


# The words of the cells a selector names that the layout broke across two lines ("Enable/d").
BROKEN_WORDS = """selector => {
  const broken = [];
  for (const cell of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/[A-Za-z]+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_the_logs_tab_shows_another_functions_new_lines_as_they_are_written(
    examples, sb, page, server, shots
):
    group = f"/aws/lambda/{API_FUNCTION}"
    page.goto(server.url + "#logs")
    page.locator("#log-group").select_option(group)
    page.locator("#log-view .log-line.platform-report", has_text=examples["api"].request_id).wait_for()
    known = {r.request_id for r in sb.records.all()}
    [api_id] = [api["ApiId"] for api in sb.client("apigatewayv2").get_apis()["Items"]]
    with urllib.request.urlopen(f"{sb.endpoint_url}/_aws/execute-api/{api_id}/images", timeout=60) as answer:
        assert answer.status == 200
    fresh = wait_for_record(
        sb, lambda r: r.function_name == API_FUNCTION and r.request_id not in known, what="the new request"
    )
    # no reload, no click: the change feed brings the group's new lines, the handler's and the platform's
    page.locator("#log-view .log-line.platform-report", has_text=fresh.request_id).wait_for()
    stream = fresh.log_stream or sb.logs.streams(group)[0]["name"]
    sb.logs.put(group, stream, "a line written after the invocation ended")  # no record announces it
    page.locator("#log-view .log-line", has_text="a line written after the invocation ended").wait_for()
    assert page.locator("#log-group").input_value() == group
    page.screenshot(path=str(shots / "logs-live-api-function.png"))


@pytest.mark.browser
@pytest.mark.slow
def test_a_filter_shows_every_matching_invocation_not_only_the_rows_read(examples, sb, page, server, shots):
    for _ in range(60):  # more than the first page: the API request's row is no longer among the rows read
        sb.invoke({"Records": []})
    page.goto(server.url + "#invocations")
    rows = page.locator("#invocations-body tr.row")
    rows.first.wait_for()
    api = page.locator(f'#invocations-body tr.row[data-request-id="{examples["api"].request_id}"]')
    assert api.count() == 0
    page.locator("#inv-filter-function").select_option(API_FUNCTION)
    api.wait_for()
    assert {
        rows.nth(i).locator("td.fn-cell").inner_text().replace("\n", "") for i in range(rows.count())
    } == {API_FUNCTION}
    page.screenshot(path=str(shots / "invocations-filtered-by-function.png"))
    page.locator("#inv-filter-function").select_option("")
    page.locator("#inv-filter-trigger").select_option("sqs")
    page.locator(f'#invocations-body tr.row[data-request-id="{examples["queued"].request_id}"]').wait_for()
    assert "SQS batch" in rows.first.inner_text() and api.count() == 0


@pytest.mark.browser
@pytest.mark.slow
def test_a_card_shows_the_size_s3_holds_after_an_invoke_with_a_generated_event(sb, page, server, shots):
    key = "generated.jpg"
    sample = SAMPLES / "holiday photo.jpg"  # 1024x768, 100,200 bytes
    sb.s3.upload_file(str(sample), sb.config.source_bucket, key)
    uploaded = sb.wait_for_key(key, timeout=60)
    event = run_command("generate-event", "s3-put", "--key", key)  # its size says 1024 bytes
    assert event.returncode == 0, event.stderr
    invoked = run_command("invoke", "--event", "-", "--endpoint-url", sb.endpoint_url, input=event.stdout)
    assert invoked.returncode == 0, invoked.stderr
    by_hand = wait_for_record(
        sb,
        lambda r: r.subject.get("key") == key and r.request_id != uploaded.request_id and r.final,
        what="the invocation with the generated event",
    )
    page.goto(server.url + "#gallery")
    card = page.locator(f'article.card[data-key="{key}"]', has_text=f"request {by_hand.request_id[:8]}")
    card.wait_for()  # the card shows the invocation with the generated event
    text = card.inner_text()
    assert "1024×768 · 98 KB" in text and "1.0 KB" not in text and "+" not in text.split("bytes")[0]
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "gallery-size-from-s3.png"))


# -- escaping and the local-only rules on the new routes -----------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_a_hostile_key_is_text_in_the_pair_view_and_the_invocations(sb, page, server):
    sb.s3.upload_file(str(SAMPLES / "test.jpg"), sb.config.source_bucket, HOSTILE_KEY)
    sb.wait_for_key(HOSTILE_KEY, timeout=60)
    page.goto(server.url + "#gallery")
    page.locator("article.card").filter(
        has=page.get_by_role("heading", name=HOSTILE_KEY, exact=True)
    ).locator("button.pair").click()
    page.locator("#pair-stages .timeline .step").first.wait_for()
    assert page.locator("#pair-title").inner_text() == HOSTILE_KEY
    assert HOSTILE_KEY in page.locator("#pair-stages").inner_text()
    assert page.locator("#pair-dialog img[src='x']").count() == 0
    page.locator("#pair-close").click()
    page.locator('.tabs [data-tab="invocations"]').click()
    page.locator("#invocations-body td.key-cell", has_text=HOSTILE_KEY).first.wait_for()
    assert page.locator("#invocations-body img").count() == 0


NEW_ROUTES = [
    "/api/functions",
    "/api/logs/groups",
    "/api/logs/events?group=/aws/lambda/ImageResizeLambda",
    "/api/logs/streams?group=/aws/lambda/ImageResizeLambda",
    "/api/cost?function=ImageResizeLambda",
    "/api/monitor?function=ImageResizeLambda&range=1h",
    "/api/environments",
]


@pytest.mark.parametrize("route", NEW_ROUTES)
def test_new_routes_refuse_a_foreign_host_and_give_a_foreign_origin_nothing_to_read(client, route):
    assert get(client, route).status_code == 200
    refused = get(client, route, Host=f"attacker.example:{PORT}")
    assert refused.status_code == 400 and "DNS-rebinding" in refused.get_json()["error"]
    foreign = get(client, route, Origin="http://attacker.example", **{"Sec-Fetch-Site": "cross-site"})
    # GETs change nothing; a page of another origin cannot read the answer: no CORS grant, and
    # Cross-Origin-Resource-Policy keeps it from no-cors reads too.
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert foreign.headers["Cross-Origin-Resource-Policy"] == "same-origin"


def test_an_unknown_log_group_or_function_gets_404_in_one_sentence(client):
    missing = get(client, "/api/logs/events?group=/aws/lambda/nobody")
    assert missing.status_code == 404 and "No log group" in missing.get_json()["error"]
    assert get(client, "/api/cost?function=nobody").status_code == 404


def test_the_cost_projection_uses_only_invocations_at_the_configured_memory(sb, client):
    fn = sb.function
    assert fn.memory_size == 128
    sb.invoke({"Records": []})
    sb.update_function_configuration(memory_size=1024)  # as a power tuning does, then back
    try:
        for _ in range(3):
            sb.invoke({"Records": []})
    finally:
        sb.update_function_configuration(memory_size=128)
    data = get(client, "/api/cost").get_json()
    assert data["projection"]["memory_mb"] == 128  # not pulled up by the runs at 1024 MB
    [other] = [o for o in data["other_memory"] if o["memory_mb"] == 1024]
    assert other["invocations"] == 3 and data["memory_size"] == 128
