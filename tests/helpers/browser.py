"""Debian's headless Chromium under Playwright for the browser tests (tests/browser/).

Debian's ``chromium-headless-shell`` when installed (CI installs it), else its ``chromium``: both are the
same Blink and network stack; the shell leaves out the browser's windowing layer and costs about a third
less CPU per page. Skipped when neither is installed, unless SANDBOX_REQUIRE_BROWSER=1 (CI), which makes
that a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUMS = (Path("/usr/bin/chromium-headless-shell"), Path("/usr/bin/chromium"))
CHROMIUM = next((path for path in CHROMIUMS if path.exists()), CHROMIUMS[-1])


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


HOSTILE_KEY = "<img src=x onerror=alert(1)>.jpg"


WAIT_MS = 60_000


def _unavailable(reason: str):
    if os.environ.get("SANDBOX_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and SANDBOX_REQUIRE_BROWSER=1 says the browser tests must run.")
    pytest.skip(reason)


def started_playwright():
    """Playwright's driver (a generator for a session fixture: yields it); one per test process, since
    its sync API runs one driver per thread."""
    if not CHROMIUM.exists():
        _unavailable(f"neither {' nor '.join(map(str, CHROMIUMS))} is installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        yield playwright


def launched_chromium(playwright, extra_args=()):
    """Debian's Chromium under ``playwright`` (a generator for fixtures: yields the browser)."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + list(extra_args))
    yield browser
    browser.close()


def new_page(browser):
    """A page in a new browser context; ``page.errors`` collects uncaught script errors and alert()
    calls, which must never happen."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(f"script error: {error}"))
    page.on("dialog", lambda dialog: (page.errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return page
