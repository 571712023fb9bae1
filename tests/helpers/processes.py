"""`run_local.py` as a real process: one command run to its end, a sandbox kept running on a free port,
or the banner it prints up to its ready line."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading

import boto3

from helpers.paths import PROJECT_ROOT
from helpers.waiting import eventually

RUN_LOCAL = [sys.executable, str(PROJECT_ROOT / "run_local.py")]


def run_command(*args, timeout=120, **kwargs):
    return subprocess.run(
        RUN_LOCAL + list(args), capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT, **kwargs
    )


class RunningSandbox:
    """run_local.py in its own process on a free port (--port 0: it prints the one it got), its output read
    as it comes so the process never blocks on a full pipe."""

    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            RUN_LOCAL + ["--port", "0", "--no-web", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=PROJECT_ROOT,
        )
        self.output = []
        self._reader = threading.Thread(target=self._read, name="run_local-output", daemon=True)
        self._reader.start()
        eventually(
            lambda: "".join(self.output),
            lambda text: "ready" in text or self.proc.poll() is not None,
            what="run_local.py's ready line",
        )
        self.banner = "".join(self.output)
        if "ready" not in self.banner:
            raise AssertionError("no ready line:\n" + self.banner)
        self.ready_lines = len(self.output)
        self.url = re.search(r"local AWS endpoint : (http://127\.0\.0\.1:(\d+))", self.banner).group(1)
        self.port = int(self.url.rsplit(":", 1)[1])

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line)

    def output_after_ready(self) -> str:
        """What it printed after the ready line, once it has exited."""
        self.proc.wait(20)
        self._reader.join(10)
        return "".join(self.output[self.ready_lines :])

    def s3(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)


def run_local_banner(*args) -> str:
    """What ``run_local.py ARGS --port 0 --no-web --quiet`` prints up to its ready line (then stopped)."""
    process = subprocess.Popen(
        [sys.executable, "run_local.py", *args, "--port", "0", "--no-web", "--quiet"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    banner = []
    try:
        for line in process.stdout:
            banner.append(line)
            if line.startswith("ready in"):
                break
    finally:
        process.terminate()
        rest, errors = process.communicate(timeout=60)
    text = "".join(banner)
    assert "ready in" in text, text + errors
    return text
