"""An SNS message's invocation on the page (1280x720): the Invocations tab names the trigger "SNS
message", asynchronous, and its stages say SNS invoked it; a hostile message is text. Real sandbox, real
WebServer, headless Chromium; screenshots in test-output/sns/."""

from __future__ import annotations

import pytest

from helpers.browser import HOSTILE_KEY, new_page
from helpers.paths import HANDLERS, TEST_OUTPUT
from helpers.sandboxes import start_sandbox
from helpers.waiting import wait_for_record
from web.stages import event_time

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_stages_read_when_the_topic_accepted_the_message():
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Timestamp": "2026-12-07T04:00:00.250Z"}}]}
    assert event_time(event) == 1796616000.25


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "scheduled")
    yield sandbox
    sandbox.stop()


def test_an_sns_invocation_is_named_by_its_trigger_and_its_stages(sb, server, browser):
    sns = sb.client("sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    function_arn = sb.client("lambda").get_function(FunctionName=sb.function.function_name)["Configuration"][
        "FunctionArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    message_id = sns.publish(TopicArn=topic, Message=HOSTILE_KEY, Subject="order")["MessageId"]
    record = wait_for_record(
        sb, lambda r: r.trigger == "sns" and r.final, what="the SNS message's invocation"
    )
    assert record.subject["message_id"] == message_id

    page = new_page(browser)
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(server.url + "#invocations")
    row = page.locator(f'#invocations-body tr.row[data-request-id="{record.request_id}"]')
    row.wait_for()
    text = row.inner_text()
    assert "SNS message" in text and "async" in text and f"orders: message {message_id}" in text
    row.click()
    page.locator("tr.detail-row .timeline .step").nth(1).wait_for()
    assert "SNS invoked it asynchronously, attempt 1 of 3" in (
        page.locator("tr.detail-row .timeline .step").nth(1).inner_text()
    )
    assert page.locator("img[src=x]").count() == 0  # the message is text, never markup
    folder = TEST_OUTPUT / "sns"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "invocations-sns.png"))
    page.locator("#inv-filter-trigger").select_option("sns")
    assert row.is_visible()
    assert page.errors == []
    page.context.close()
