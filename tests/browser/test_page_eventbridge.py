"""An EventBridge rule's invocation on the page (1280x720): the Invocations tab names the trigger
"EventBridge rule", asynchronous, with the rule and the event; the trigger filter offers it; a hostile
detail is text. Real sandbox, real WebServer, headless Chromium; screenshots in test-output/eventbridge/."""

from __future__ import annotations

import json

import pytest

from helpers.browser import HOSTILE_KEY, new_page
from helpers.paths import HANDLERS, TEST_OUTPUT
from helpers.sandboxes import start_sandbox
from helpers.waiting import wait_for_record

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "scheduled")
    yield sandbox
    sandbox.stop()


def test_an_eventbridge_invocation_is_named_by_its_trigger(sb, server, browser):
    events = sb.client("events")
    function_arn = sb.client("lambda").get_function(FunctionName=sb.function.function_name)["Configuration"][
        "FunctionArn"
    ]
    events.put_rule(Name="big-orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="big-orders", Targets=[{"Id": "fn", "Arn": function_arn}])
    events.put_events(
        Entries=[
            {"Source": "shop", "DetailType": "Order Placed", "Detail": json.dumps({"note": HOSTILE_KEY})}
        ]
    )
    record = wait_for_record(
        sb, lambda r: r.trigger == "eventbridge" and r.final, what="the rule's invocation"
    )

    page = new_page(browser)
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(server.url + "#invocations")
    row = page.locator(f'#invocations-body tr.row[data-request-id="{record.request_id}"]')
    row.wait_for()
    text = row.inner_text()
    assert "EventBridge rule" in text and "async" in text and "big-orders: Order Placed from shop" in text
    row.click()
    page.locator("tr.detail-row .timeline .step").nth(1).wait_for()
    assert page.locator("img[src=x]").count() == 0  # the detail is text, never markup
    folder = TEST_OUTPUT / "eventbridge"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "invocations-eventbridge.png"))
    page.locator("#inv-filter-trigger").select_option("eventbridge")
    assert row.is_visible()
    assert page.errors == []
    page.context.close()
