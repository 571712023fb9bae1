"""What every browser test module shares: one headless Chromium (``browser``) and the page served over a
module's sandbox (``server``; each module starts its own ``sb``, as its tests need it)."""

import pytest

from helpers.browser import launched_chromium


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium()


@pytest.fixture(scope="module")
def server(sb):
    from web.app import create_app
    from web.server import WebServer

    server = WebServer(create_app(sb), port=0).start()
    yield server
    server.stop()
