"""``run_local.py bench --only clone``: a newcomer's first minute. Measures and prints; asserts nothing.

The project is cloned (its last commit) into a temporary folder and started with ``make run``, as the README
says, on free ports; the time runs from the clone to the banner's "ready" line, so it covers making the venv
and installing every package. uv's download cache is a new, empty folder (``--warm-cache`` keeps the
user's), so the packages come from the registry as on a new machine. Needs git, make and the registry.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sandbox.config import PROJECT_ROOT
from sandbox.tools.bench.runner import _line

READY = re.compile(r"^ready in ([\d.]+) s")


def _missing() -> str | None:
    for tool in ("git", "make"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not (PROJECT_ROOT / ".git").exists():
        return f"{PROJECT_ROOT} is not a git checkout"
    return None


def clone_to_ready(folder: Path, warm_cache: bool = False, timeout: float = 600) -> dict:
    """Seconds from ``git clone`` to "ready" of ``make run`` in ``folder``, and the banner's own figure."""
    env = dict(os.environ)
    if not warm_cache:
        env["UV_CACHE_DIR"] = str(folder / "uv-cache")
        env["PIP_NO_CACHE_DIR"] = "1"
    checkout = folder / "checkout"
    started = time.perf_counter()
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(checkout)], check=True, env=env)
    proc = subprocess.Popen(
        ["make", "run", f"PYTHON={sys.executable}", "ARGS=--port 0 --web-port 0 --quiet"],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output, banner_s = [], None
    try:
        for line in proc.stdout:
            output.append(line)
            found = READY.match(line)
            if found:
                banner_s = float(found.group(1))
                break
            if time.perf_counter() - started > timeout:
                break
        elapsed = time.perf_counter() - started
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if banner_s is None:
        raise RuntimeError("make run did not get to ready:\n" + "".join(output[-20:]))
    return {"clone_to_ready_s": elapsed, "first_ready_s": banner_s}


def run(warm_cache: bool = False) -> dict:
    why = _missing()
    if why:
        print(f"  skipped: {why}")
        return {}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory(prefix="fresh-clone-") as folder:
        figures = clone_to_ready(Path(folder), warm_cache=warm_cache)
    _line(
        "fresh clone -> ready (git clone, make run)",
        f"{figures['clone_to_ready_s']:.1f} s",
        f"goal <= 45 s; {'the user' if warm_cache else 'an empty'} download cache, load average {load:.1f}",
    )
    _line(
        "  of which the first start (its banner's figure)",
        f"{figures['first_ready_s']:.2f} s",
        "Python writes the bytecode of what it imports, once",
    )
    return figures


if __name__ == "__main__":
    run(warm_cache="--warm-cache" in sys.argv)
