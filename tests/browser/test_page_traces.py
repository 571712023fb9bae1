"""One event's path, drawn, and the session's service map, in headless Chromium at 1280x720: an upload
through S3 -> SQS -> Lambda (examples/queue) shows its queue hop between S3's notification and the
handler, the handler's SDK calls under it, and the map shows bucket -> queue -> function -> buckets with
counts. A hostile key stays text."""

from __future__ import annotations

import pytest

from helpers.browser import HOSTILE_KEY, new_page
from helpers.paths import SAMPLES, TEST_OUTPUT
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, wait_for_record
from sandbox.guide.example_setups import set_up

PROJECTOR = {"width": 1280, "height": 720}
QUEUED_BUCKET = "queued-image-bucket123"  # examples/queue: S3 -> SQS -> ImageResizeQueueLambda
QUEUE = "image-resize-queue"
QUEUE_FUNCTION = "ImageResizeQueueLambda"
KEY = "through the queue.jpg"


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    set_up(sandbox, ["queue"])
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def queued(sb):
    """One image uploaded to the queued bucket, resized by the queue's function, its batch deleted."""
    body = (SAMPLES / "test.jpg").read_bytes()
    sb.s3.put_object(Bucket=QUEUED_BUCKET, Key=KEY, Body=body)
    record = wait_for_record(
        sb,
        lambda r: (
            r.function_name == QUEUE_FUNCTION
            and r.final
            and r.status == "success"
            and "through+the+queue.jpg" in str(r.event)
        ),
        what="the queued image to be resized through SQS",
    )

    def deleted():
        hops = sb.traces.trace(sb.traces.root_of(record.request_id)) or []
        return any(h["operation"] == "DeleteMessageBatch" for h in hops)

    eventually(deleted, what="the poller to delete the batch")
    sb.s3.put_object(Bucket=QUEUED_BUCKET, Key=HOSTILE_KEY, Body=body)  # after: a batch of its own
    wait_for_record(
        sb,
        lambda r: r.function_name == QUEUE_FUNCTION and r.final and "onerror" in str(r.event),
        what="the hostile key's message to be handled",
    )
    return record


@pytest.fixture(scope="module")
def shots():
    folder = TEST_OUTPUT / "traces"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser, server):
    page = new_page(browser)
    page.set_viewport_size(PROJECTOR)
    yield page
    assert page.errors == []
    page.context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_the_path_of_an_upload_through_a_queue_shows_the_queue_hop_between_s3_and_the_handler(
    sb, queued, page, server, shots
):
    page.goto(f"{server.url}/#invocations")
    page.locator(f'#invocations-body tr.row[data-request-id="{queued.request_id}"]').click()
    page.locator("tr.detail-row button", has_text="Path").click()
    page.locator("#path-dialog .hop").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('#path-dialog .hop').length >= 9")
    hops = page.eval_on_selector_all(
        "#path-dialog .hop",
        "nodes => nodes.map(n => [n.dataset.service, n.dataset.operation, n.classList.contains('within')])",
    )
    order = [(service, operation) for service, operation, _ in hops]
    expected = [
        ("S3", "PutObject"),
        ("S3", "notification"),
        ("SQS", "queue"),
        ("Lambda", "poller batch"),
        ("Lambda", "environment"),
        ("Lambda", "handler"),
        ("S3", "GetObject"),
        ("S3", "PutObject"),
        ("Lambda", "REPORT"),
        ("SQS", "DeleteMessageBatch"),
    ]
    assert [hop for hop in order if hop in expected] == expected, order
    within = {operation for service, operation, inside in hops if inside}
    assert within == {"GetObject", "PutObject"}  # the handler's own SDK calls, drawn inside it
    queue_hop = page.locator('#path-dialog .hop[data-operation="queue"]')
    assert QUEUE in queue_hop.inner_text() and "ms" in queue_hop.locator(".hop-ms").inner_text()
    chain = page.locator("#path-chain").inner_text()
    assert "notification" in chain and "queue (SQS)" in chain and "handler" in chain
    dialog = page.locator("#path-dialog").bounding_box()
    assert dialog["width"] <= PROJECTOR["width"] and dialog["height"] <= PROJECTOR["height"]
    page.screenshot(path=str(shots / "path-s3-sqs-lambda-1280x720.png"))


@pytest.mark.browser
@pytest.mark.slow
def test_a_hostile_key_in_a_path_is_shown_as_text(sb, queued, page, server):
    record = next(
        r
        for r in sb.records.all()
        if r.function_name == QUEUE_FUNCTION and r.final and "onerror" in str(r.event)
    )
    page.goto(f"{server.url}/#invocations")
    page.locator(f'#invocations-body tr.row[data-request-id="{record.request_id}"]').click()
    page.locator("tr.detail-row button", has_text="Path").click()
    page.locator('#path-dialog .hop[data-operation="GetObject"]').wait_for()
    assert HOSTILE_KEY in page.locator('#path-dialog .hop[data-operation="GetObject"]').inner_text()
    assert page.locator("#path-dialog img").count() == 0


@pytest.mark.browser
@pytest.mark.slow
def test_the_service_map_draws_bucket_queue_function_and_buckets_with_counts(sb, queued, page, server, shots):
    page.goto(f"{server.url}/#service-map")
    page.locator(".service-map .map-node").first.wait_for()
    nodes = page.eval_on_selector_all(".service-map .map-node", "nodes => nodes.map(n => n.dataset.id)")
    assert {
        f"bucket:{QUEUED_BUCKET}",
        f"queue:{QUEUE}",
        f"function:{QUEUE_FUNCTION}",
        f"bucket:{sb.config.destination_bucket}",
    } <= set(nodes)
    edge = page.locator(f'.map-edge[data-from="bucket:{QUEUED_BUCKET}"][data-to="queue:{QUEUE}"]')
    assert int(edge.locator(".map-count").text_content().split()[0]) >= 2  # the two uploads
    invoked = page.locator(f'.map-edge[data-from="queue:{QUEUE}"][data-to="function:{QUEUE_FUNCTION}"]')
    assert invoked.count() == 1
    # left to right: what started the trace, the queue, the function, what it wrote
    x = {
        n: page.locator(f'.map-node[data-id="{n}"]').bounding_box()["x"]
        for n in (f"bucket:{QUEUED_BUCKET}", f"queue:{QUEUE}", f"function:{QUEUE_FUNCTION}")
    }
    assert x[f"bucket:{QUEUED_BUCKET}"] < x[f"queue:{QUEUE}"] < x[f"function:{QUEUE_FUNCTION}"]
    page.screenshot(path=str(shots / "service-map-1280x720.png"))


@pytest.mark.browser
@pytest.mark.slow
def test_the_pair_views_path_shows_an_uploads_way_through_s3_and_lambdas_async_queue(sb, page, server, shots):
    key = "pair path.jpg"
    sb.s3.upload_file(str(SAMPLES / "test.jpg"), sb.config.source_bucket, key)
    record = sb.wait_for_key(key, timeout=60)
    page.goto(f"{server.url}/#gallery")  # (with the queue's function too, the page opens on Functions)
    page.locator(f'article.card[data-key="{key}"] button.pair').click()
    page.locator("#pair-attempts section.attempt button", has_text="Path").click()
    page.locator('#path-dialog .hop[data-operation="REPORT"]').wait_for()
    order = page.eval_on_selector_all(
        "#path-dialog .hop", "nodes => nodes.map(n => n.dataset.service + ' ' + n.dataset.operation)"
    )
    assert order == [
        "S3 PutObject",
        "S3 notification",
        "Lambda async queue",
        "Lambda environment",
        "Lambda handler",
        "S3 GetObject",
        "S3 PutObject",
        "Lambda REPORT",
    ]
    environment = page.locator('#path-dialog .hop[data-operation="environment"]').inner_text()
    assert ("cold, INIT" in environment) == bool(record.cold_start)
    assert page.locator("#path-dialog").is_visible()  # over the pair view, which stays open beneath it
    page.screenshot(path=str(shots / "path-from-pair-view-1280x720.png"))
    page.locator("#path-close").click()
    assert page.locator("#pair-dialog").is_visible()
