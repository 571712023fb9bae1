"""The Monitor tab in Chromium at 1280x720: the function's CloudWatch graphs follow a burst of invocations
as it runs, without a reload, and an idle page asks the server for nothing. Screenshots in
test-output/monitor/."""

from __future__ import annotations

import time

import pytest

from helpers.browser import new_page
from helpers.paths import TEST_OUTPUT
from helpers.sandboxes import start_sandbox
from helpers.waiting import settle

PROJECTOR = {"width": 1280, "height": 720}
BURST = 20
IDLE_S = 4.0

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def shots():
    folder = TEST_OUTPUT / "monitor"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser, server):
    page = new_page(browser)
    page.set_viewport_size(PROJECTOR)
    page.api_requests = []
    page.on("request", lambda request: "/api/" in request.url and page.api_requests.append(request.url))
    yield page
    assert page.errors == []
    page.context.close()


def invocations_total(page) -> float:
    return float(page.get_attribute('#monitor-graphs [data-graph="invocations"]', "data-total"))


def requests_while_idle(page, timeout_s: float = 60.0) -> list[str]:
    """The page's /api/ requests in a window of IDLE_S seconds once the sandbox has gone quiet: [] unless
    the page polls (the last invocations' trailing changes, such as their log lines being read, may
    still ask for a refresh or two before that; a polling page never goes quiet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        before = len(page.api_requests)
        page.wait_for_timeout(IDLE_S * 1000)
        made = page.api_requests[before:]
        if not made or time.monotonic() > deadline:
            return made


def test_the_invocations_graph_follows_a_burst_without_a_reload(sb, server, page, shots):
    page.goto(server.url + "#monitor")
    page.wait_for_selector('#monitor-graphs [data-graph="invocations"]')
    assert invocations_total(page) == 0 and page.is_visible("#monitor-empty")
    page.screenshot(path=str(shots / "monitor-empty.png"))
    assert requests_while_idle(page) == []  # an idle sandbox: nothing polled

    page.evaluate(
        """() => {
          window.sameDocument = true;
          window.totalsSeen = [];
          new MutationObserver(() => {
            const card = document.querySelector('#monitor-graphs [data-graph="invocations"]');
            if (card) window.totalsSeen.push(Number(card.dataset.total));
          }).observe(document.querySelector("#monitor-graphs"), { childList: true });
        }"""
    )
    lambda_ = sb.client("lambda")
    name = sb.function.function_name
    asked = len(page.api_requests)
    for wave in (1, 2):  # the burst in two waves: the graph shows the first before the second is sent
        for _ in range(BURST // 2):
            lambda_.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"Records": []}')
        page.wait_for_function(
            f"""() => Number(document.querySelector('#monitor-graphs [data-graph="invocations"]')
                  .dataset.total) === {wave * BURST // 2}"""
        )
    assert page.evaluate("window.sameDocument") is True  # redrawn in place, never reloaded
    seen = page.evaluate("window.totalsSeen")
    assert BURST // 2 in seen and seen[-1] == BURST and seen == sorted(seen)
    refreshes = [u for u in page.api_requests[asked:] if "/api/monitor" in u]
    assert refreshes, "the graphs were redrawn from the feed's news"
    assert page.is_hidden("#monitor-empty")
    bars = page.eval_on_selector_all(
        '[data-graph="invocations"] [data-metric="Invocations"] rect',
        "bars => bars.map(b => Number(b.dataset.value))",
    )
    assert sum(bars) == BURST
    dots = page.locator('[data-graph="duration"] circle').count()
    assert dots >= 3  # average, p50 and maximum of at least one period
    page.screenshot(path=str(shots / "monitor-burst-1280x720.png"))
    page.screenshot(path=str(shots / "monitor-burst-full.png"), full_page=True)

    settle(sb)
    assert requests_while_idle(page) == []  # idle again: no polling loop


def test_the_range_buttons_and_the_function_picker_reread_the_graphs(sb, server, page, shots):
    page.goto(server.url + "#monitor")
    page.wait_for_selector('#monitor-graphs [data-graph="invocations"]')
    page.click('.mon-ranges [data-range="1h"]')
    page.wait_for_function(
        "() => document.querySelector('#mon-status').textContent.includes('the last hour')"
    )
    assert page.get_attribute('.mon-ranges [data-range="1h"]', "aria-pressed") == "true"
    page.click('.mon-ranges [data-range="session"]')
    page.wait_for_function("() => document.querySelector('#mon-status').textContent.includes('this session')")
    options = page.eval_on_selector_all("#mon-function option", "os => os.map(o => o.value)")
    assert sb.function.function_name in options
    cli = page.text_content("#mon-cli")
    assert "aws cloudwatch get-metric-statistics" in cli and sb.function.function_name in cli
    page.set_viewport_size({"width": 1024, "height": 768})
    page.screenshot(path=str(shots / "monitor-session-1024x768.png"))
