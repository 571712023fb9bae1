"""What every browser test module shares: one headless Chromium per test process (``browser``: each
context a test opens is fresh, so modules share nothing but the process) and the page served over a
module's sandbox (``server``; each module starts its own ``sb``, as its tests need it)."""

import pytest

from helpers.browser import launched_chromium, started_playwright


@pytest.fixture(scope="session")
def playwright():
    yield from started_playwright()


@pytest.fixture(scope="session")
def browser(playwright):
    yield from launched_chromium(playwright)


@pytest.fixture(scope="module", autouse=True)
def _contexts_closed_after_each_module(browser):
    """A module's pages are closed with it: none polls a stopped sandbox while later modules run."""
    yield
    for context in list(browser.contexts):
        context.close()


@pytest.fixture(scope="module")
def server(sb):
    from web.app import create_app
    from web.server import WebServer

    server = WebServer(create_app(sb), port=0).start()
    yield server
    server.stop()
