"""``run_local.py bench --only page``: what watching costs. Measures and prints; asserts nothing.

A running sandbox with real headless Chromium tabs on the gallery, each in its own browser context: upload
bursts with 0, 1 and 3 pages open, the sandbox's CPU while idle with them, how long after an upload its
output appears on an open page, and the first gallery paint at 10 and 10,000 images. The environments
run at full CPU: this measures the sandbox's machinery and what the page adds to it.

What it measures and its goals: docs/tools.md.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from sandbox.config import PROJECT_ROOT, SandboxConfig
from sandbox.lambda_.invocation import InvocationStatus
from sandbox.tools.bench.runner import _UPLOADER, _cpu_seconds, _line

CHROMIUM = Path("/usr/bin/chromium")
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
PAGE_CONFIG = {"port": 0, "web_port": None, "full_cpu": True}
THREADS = 8
TEST_JPG = PROJECT_ROOT / "sample_images" / "test.jpg"

# Installed in the latency phase's page only: when a card turns done and when its thumbnail is shown.
WATCH_CARDS = """() => {
    window.__seen = {done: {}, shown: {}};
    const note = (card) => {
        const key = card.dataset.key;
        if (card.classList.contains("status-done") && !window.__seen.done[key]) window.__seen.done[key] = Date.now();
        const img = card.querySelector("img.resized-img");
        if (img && img.complete && img.naturalWidth && !window.__seen.shown[key]) window.__seen.shown[key] = Date.now();
    };
    new MutationObserver((mutations) => {
        for (const m of mutations) {
            const card = (m.target.closest && m.target.closest("article.card")) || null;
            if (card) note(card);
            for (const node of m.addedNodes) if (node.matches && node.matches("article.card")) note(node);
        }
    }).observe(document.querySelector("#gallery"), {subtree: true, childList: true, attributes: true,
                                                    attributeFilter: ["class"]});
}"""  # noqa: E501 (JavaScript run in the browser)


def _jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    with Image.open(TEST_JPG) as image:
        small = image.convert("RGB").resize((width, height))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class Completions:
    """Counts the uploads of one burst that have their final success, from the records' own changes
    (one listener, O(1) a change: waiting must not cost the process being measured)."""

    def __init__(self, sb):
        self._lock = threading.Lock()
        self._prefix = None
        self._done: set[str] = set()
        self._target = 0
        self._event = threading.Event()
        sb.records.subscribe(self._on_change)

    def expect(self, prefix: str, count: int) -> None:
        with self._lock:
            self._prefix, self._done, self._target = prefix, set(), count
            self._event.clear()

    def _on_change(self, record) -> None:
        key = (record.subject or {}).get("key") or ""
        if self._prefix is None or not key.startswith(self._prefix) or not record.final:
            return
        if record.status != InvocationStatus.SUCCESS:
            return
        with self._lock:
            self._done.add(key)
            if len(self._done) >= self._target:
                self._event.set()

    def wait(self, timeout: float) -> int:
        self._event.wait(timeout)
        with self._lock:
            return len(self._done)


def _browser_cpu(me: psutil.Process) -> dict[int, float]:
    """Each browser process's CPU so far, by process id."""
    seconds = {}
    for child in me.children(recursive=True):
        try:
            if "chrom" in child.name():
                seconds[child.pid] = _cpu_seconds(child)
        except psutil.Error:
            pass
    return seconds


def _browser_cpu_since(me: psutil.Process, before: dict[int, float]) -> float:
    """The browsers' CPU since ``before``, of the processes still running (one that exits meanwhile, the
    renderer of a page closed just before, takes its CPU with it and must not count against the rest)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in _browser_cpu(me).items())


def _burst(sb, completions: Completions, prefix: str, count: int, body_path: Path) -> dict:
    keys = [f"{prefix}/{i:04d}.jpg" for i in range(count)]
    me = psutil.Process()
    completions.expect(prefix + "/", count)
    uploader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _UPLOADER,
            sb.endpoint_url,
            sb.config.source_bucket,
            str(body_path),
            str(THREADS),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        uploader.stdin.write(" ".join(keys) + "\n")
        uploader.stdin.flush()
        if uploader.stdout.readline().strip() != "ready":
            raise RuntimeError("the burst's uploader did not start")
        sandbox_before, browser_before = _cpu_seconds(me), _browser_cpu(me)
        started = time.perf_counter()
        uploader.stdin.write("go\n")
        uploader.stdin.close()
        report = uploader.stdout.readline().split()
        if uploader.wait(600) != 0 or report[:1] != ["cpu"]:
            raise RuntimeError("the burst's uploader failed (its error is above)")
    finally:
        if uploader.poll() is None:
            uploader.kill()
    done = completions.wait(600)
    elapsed = time.perf_counter() - started
    return {
        "images": done,
        "seconds": elapsed,
        "images_per_s": done / elapsed,
        "cpu_sandbox_s": _cpu_seconds(me) - sandbox_before,
        "cpu_browser_s": _browser_cpu_since(me, browser_before),
        "load": os.getloadavg()[0],
    }


def _idle_cpu(seconds: float) -> float:
    """The sandbox process's CPU over ``seconds`` of nothing happening, as % of one core."""
    me = psutil.Process()
    before, started = _cpu_seconds(me), time.perf_counter()
    time.sleep(seconds)  # the measuring interval itself
    return (_cpu_seconds(me) - before) / (time.perf_counter() - started) * 100


# With several pages open, all but the first show these views (each redrawn live from the change feed).
OTHER_VIEWS = ("monitor", "service-map")


def _open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    page.wait_for_function("() => document.querySelector('#live').textContent === 'live'")
    return context, page


def _first_paint(page) -> dict:
    page.wait_for_function("() => performance.getEntriesByName('gallery-first-paint').length > 0")
    paint = page.evaluate("() => performance.getEntriesByName('gallery-first-paint')[0].startTime")
    page.wait_for_function("() => performance.getEntriesByName('gallery-first-thumbnail').length > 0")
    thumb = page.evaluate("() => performance.getEntriesByName('gallery-first-thumbnail')[0].startTime")
    return {"paint_ms": paint, "thumbnail_ms": thumb}


def _tab_paint(browser, url: str, repeats: int = 3) -> dict:
    """Median first paint of a new tab: in a fresh context each time, and in one context that has shown
    the page before (its files in the browser's cache)."""
    cold, warm = [], []
    used = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        first = used.new_page()
        first.goto(url)
        _first_paint(first)
        first.close()
        for _ in range(repeats):
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            try:
                page = context.new_page()
                page.set_default_timeout(120_000)
                page.goto(url)
                cold.append(_first_paint(page))
            finally:
                context.close()
            page = used.new_page()
            page.set_default_timeout(120_000)
            page.goto(url)
            warm.append(_first_paint(page))
            page.close()
    finally:
        used.close()
    return {
        "paint_ms": statistics.median(r["paint_ms"] for r in cold),
        "thumbnail_ms": statistics.median(r["thumbnail_ms"] for r in cold),
        "cached_paint_ms": statistics.median(r["paint_ms"] for r in warm),
        "cached_thumbnail_ms": statistics.median(r["thumbnail_ms"] for r in warm),
    }


def _api_cost(url: str) -> dict:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
    return {"ms": (time.perf_counter() - started) * 1000, "bytes": len(body), "data": json.loads(body)}


def _latency(sb, browser, url: str, uploads: int, body: bytes) -> dict:
    context, page = _open_page(browser, url)
    try:
        page.evaluate(WATCH_CARDS)
        done, shown = [], []
        for i in range(uploads):
            key = f"page-latency/{i:02d}.jpg"
            sb.s3.put_object(Bucket=sb.config.source_bucket, Key=key, Body=body)
            record = sb.wait_for_key(key, timeout=120)
            page.wait_for_function("(key) => window.__seen.shown[key]", arg=key, polling=50)
            seen = page.evaluate("(key) => [window.__seen.done[key], window.__seen.shown[key]]", key)
            written = record.finished_at * 1000  # the handler had written its output when it returned
            done.append(seen[0] - written)
            shown.append(seen[1] - written)
    finally:
        context.close()
    return {
        "card_ms_median": statistics.median(done),
        "card_ms_max": max(done),
        "thumbnail_ms_median": statistics.median(shown),
        "thumbnail_ms_max": max(shown),
    }


def _fill_gallery(sb, completions: Completions, total: int, body_path: Path, base: str) -> int:
    have = _api_cost(f"{base}api/gallery?limit=1")["data"]["total"]
    missing = total - have
    chunk = 0
    while missing > 0:
        count = min(missing, 2000)
        _burst(sb, completions, f"page-fill/{chunk}", count, body_path)
        chunk += 1
        missing -= count
    return _api_cost(f"{base}api/gallery?limit=1")["data"]["total"]


def _open_pages(browser, url: str, count: int) -> list:
    """``count`` pages on the gallery, each in its own context; with several, all but the first show the
    Monitor tab and the service map."""
    opened = [_open_page(browser, url) for _ in range(count)]
    for index, (_, page) in enumerate(opened):
        _first_paint(page)
        if index:
            page.evaluate(f"() => {{ location.hash = '#{OTHER_VIEWS[(index - 1) % 2]}'; }}")
    return opened


def _measured(sb, completions, browser, url, label, pages, burst, body, idle_s) -> dict:
    """One measured burst with ``pages`` pages open, then a reload of the first page and the idle CPU."""
    opened = _open_pages(browser, url, pages)
    try:
        result = _burst(sb, completions, f"page-{label.replace(' ', '-')}", burst, body)
        sb.records.wait_idle(120)
        result.update(label=label, pages=pages)
        if opened:
            page = opened[0][1]
            page.reload()
            result["reload"] = _first_paint(page)
        time.sleep(2)  # let the last log batches and frames go out before measuring idle
        result["idle_cpu_pct"] = _idle_cpu(idle_s)
    finally:
        for context, _ in opened:
            context.close()
    return result


# Long on purpose: a benchmark's script, measuring and printing in the order of the table it prints.
def run(
    burst: int = 1000,
    gallery_images: int = 10_000,
    idle_s: float = 10.0,
    latency_uploads: int = 10,
    pairs: int = 4,
) -> dict:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("  skipped: the playwright package is not installed (pip install -e '.[test]')")
        return {}
    if not CHROMIUM.exists():
        print(f"  skipped: {CHROMIUM} is not installed (apt-get install chromium)")
        return {}
    from sandbox.core import Sandbox
    from web.server import serve

    figures: dict = {"burst": burst, "threads": THREADS, "pairs": pairs}
    folder = Path(tempfile.mkdtemp(prefix="page-bench-"))
    photo, tiny = folder / "photo-640x480.jpg", folder / "tiny-64x48.jpg"
    photo.write_bytes(_jpeg(640, 480))
    tiny.write_bytes(_jpeg(64, 48))
    with Sandbox(SandboxConfig(**PAGE_CONFIG)) as sb, sync_playwright() as playwright:
        server = serve(sb, port=0)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            completions = Completions(sb)
            url = server.url
            _burst(sb, completions, "page-warmup-10", 10, photo)
            figures["load_before"] = os.getloadavg()[0]
            figures["paint_10"] = _tab_paint(browser, url)
            figures["paint_10"]["images"] = _api_cost(f"{url}api/gallery?limit=1")["data"]["total"]
            # Warm: every environment started, and whatever the pages' first reads and views set up
            # (imports, caches, the feed's invocation rows) done once before anything is measured.
            _burst(sb, completions, "page-warmup", 200, photo)
            _measured(sb, completions, browser, url, "warmup three", 3, 200, photo, idle_s=1.0)

            runs = [_measured(sb, completions, browser, url, "one", 1, burst, photo, idle_s)]
            _print_run(runs[0])
            for pair in range(1, pairs + 1):
                order = [("none", 0), ("three", 3)] if pair % 2 else [("three", 3), ("none", 0)]
                measured = {}
                for label, pages in order:
                    result = _measured(
                        sb, completions, browser, url, f"{label} {pair}", pages, burst, photo, idle_s
                    )
                    measured[pages] = result
                    runs.append(result)
                    _print_run(result)
                measured[3]["ratio"] = measured[3]["images_per_s"] / measured[0]["images_per_s"]
                _line(f"  pair {pair}: 3 pages against none", f"{measured[3]['ratio'] * 100:.0f} %")
            figures["runs"] = runs

            figures["latency"] = _latency(sb, browser, url, latency_uploads, tiny.read_bytes())
            figures["gallery_images"] = _fill_gallery(sb, completions, gallery_images, tiny, url)
            figures["paint_many"] = _tab_paint(browser, url)
            figures["gallery_api"] = {k: v for k, v in _api_cost(f"{url}api/gallery").items() if k != "data"}
            figures["invocations_api"] = {
                k: v for k, v in _api_cost(f"{url}api/invocations").items() if k != "data"
            }
            figures["load_after"] = os.getloadavg()[0]
        finally:
            browser.close()
            server.stop()
    _print_summary(figures)
    return figures


def _print_run(run: dict) -> None:
    reload = f", reload -> gallery painted {run['reload']['paint_ms']:.0f} ms" if "reload" in run else ""
    _line(
        f"{run['pages']} page(s) open ({run['label']}): burst of {run['images']}",
        f"{run['images_per_s']:.1f} /s",
        f"sandbox CPU {run['cpu_sandbox_s']:.1f} s, browsers {run['cpu_browser_s']:.1f} s; "
        f"idle {run['idle_cpu_pct']:.2f} % of a core{reload}; load average {run['load']:.1f}",
    )


def _print_summary(figures: dict) -> None:
    runs = figures["runs"]
    three = [run for run in runs if run["pages"] == 3]
    ratios = [run["ratio"] * 100 for run in three]
    none = statistics.fmean(run["images_per_s"] for run in runs if run["pages"] == 0)
    one = next(run for run in runs if run["pages"] == 1)
    figures["ratio_mean"] = statistics.fmean(ratios) / 100
    _line(
        f"3 pages against no page (mean of {len(ratios)} alternated pairs)",
        f"{statistics.fmean(ratios):.0f} %",
        f"each pair {', '.join(f'{r:.0f}' for r in ratios)} %; goal >= 90 %",
    )
    cpu = {n: statistics.fmean(r["cpu_sandbox_s"] for r in runs if r["pages"] == n) for n in (0, 3)}
    _line(
        "sandbox CPU for a burst, 3 pages open against none",
        f"{cpu[3]:.1f} s",
        f"against {cpu[0]:.1f} s (means of {len(ratios)} bursts each: what the pages cost the sandbox)",
    )
    _line(
        "1 page against no page (the mean of the no-page runs)", f"{one['images_per_s'] / none * 100:.0f} %"
    )
    _line(
        "sandbox CPU while idle, 3 pages open",
        f"{max(run['idle_cpu_pct'] for run in three):.2f} %",
        f"the highest of {len(three)} runs; goal <= 1 % of a core",
    )
    latency = figures["latency"]
    _line(
        "upload -> its card done on an open page, after the output is written",
        f"{latency['card_ms_median']:.0f} ms",
        f"p50; max {latency['card_ms_max']:.0f} ms",
    )
    _line(
        "upload -> its thumbnail shown on an open page, after the output is written",
        f"{latency['thumbnail_ms_median']:.0f} ms",
        f"p50; max {latency['thumbnail_ms_max']:.0f} ms (goal <= 250 ms)",
    )
    for label, paint in (
        (f"{figures['paint_10']['images']} images", figures["paint_10"]),
        (f"{figures['gallery_images']:,} images", figures["paint_many"]),
    ):
        _line(
            f"first gallery paint of a new tab, {label}",
            f"{paint['paint_ms']:.0f} ms",
            f"fresh context (first thumbnail {paint['thumbnail_ms']:.0f} ms); page seen before "
            f"{paint['cached_paint_ms']:.0f} ms (goal <= 300 ms)",
        )
    gallery, invocations = figures["gallery_api"], figures["invocations_api"]
    _line(
        f"GET /api/gallery (a page of 50) at {figures['gallery_images']:,} images",
        f"{gallery['ms']:.0f} ms",
        f"{gallery['bytes'] / 1024:.0f} KB; /api/invocations {invocations['ms']:.0f} ms, "
        f"{invocations['bytes'] / 1024:.0f} KB",
    )
    print(
        f"  (load average of the machine: {figures['load_before']:.1f} before, {figures['load_after']:.1f} "
        "after)"
    )
