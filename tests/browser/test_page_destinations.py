"""Where an asynchronous invocation's record went, on the page (1280x720): the invocation's detail names
the destination that took the record, or says it was not delivered. Real sandbox, real WebServer,
headless Chromium; screenshots in test-output/destinations/."""

from __future__ import annotations

import json

import pytest

from helpers.browser import new_page
from helpers.paths import HANDLERS, TEST_OUTPUT
from helpers.sandboxes import start_sandbox
from helpers.waiting import wait_for_record

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


def invoke_async(sb, payload: dict):
    sb.client("lambda").invoke(
        FunctionName=sb.function.function_name, InvocationType="Event", Payload=json.dumps(payload).encode()
    )
    return wait_for_record(
        sb, lambda r: r.event == payload and r.destination, what="the invocation telling its destination"
    )


def destination_row(page, server, record) -> str:
    page.goto(server.url + "#invocations")
    row = page.locator(f'#invocations-body tr.row[data-request-id="{record.request_id}"]')
    row.wait_for()
    row.click()
    facts = page.locator("tr.detail-row .facts-grid")
    facts.wait_for()
    page.locator("tr.detail-row .facts-grid dt", has_text="Destination").scroll_into_view_if_needed()
    return facts.inner_text()


def test_an_invocation_detail_says_where_its_record_went(sb, server, browser):
    url = sb.sqs.create_queue(QueueName="done")["QueueUrl"]
    queue = sb.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam = sb.client("lambda")
    lam.put_function_event_invoke_config(
        FunctionName=sb.function.function_name,
        MaximumRetryAttempts=0,
        DestinationConfig={
            "OnSuccess": {"Destination": queue},
            "OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:missing"},
        },
    )
    delivered = invoke_async(sb, {"action": "ok"})
    lost = invoke_async(sb, {"action": "raise"})

    page = new_page(browser)
    page.set_viewport_size({"width": 1280, "height": 720})
    folder = TEST_OUTPUT / "destinations"
    folder.mkdir(parents=True, exist_ok=True)
    assert f"on-success record sent to {queue}" in destination_row(page, server, delivered)
    page.screenshot(path=str(folder / "invocation-destination-sent.png"))
    text = destination_row(page, server, lost)
    assert "on-failure record NOT delivered to arn:aws:sqs:us-east-1:123456789012:missing" in text
    page.screenshot(path=str(folder / "invocation-destination-not-delivered.png"))
    assert page.errors == []
    page.context.close()
