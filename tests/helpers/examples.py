"""`run_local.py` started as a user starts it (the docs' and the examples' commands: tests/helpers/
doc_commands.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import contextmanager

from helpers.paths import PROJECT_ROOT


@contextmanager
def started_run_local(*args: str):
    """`run_local.py ARGS` as a user starts it (on a free port, no page, no live tail): yields the
    environment of a terminal where its export lines were pasted, and its banner."""
    process = subprocess.Popen(
        [sys.executable, "run_local.py", "--port", "0", "--no-web", "--quiet", *args],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("ready in"):
                break
        endpoint = re.search(r"local AWS endpoint : (\S+)", "".join(banner))
        assert endpoint, (
            "".join(banner) + process.stderr.read() if process.poll() is not None else "".join(banner)
        )
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint.group(1),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        env.pop("AWS_PROFILE", None)
        yield env, "".join(banner)
    finally:
        process.terminate()
        process.communicate(timeout=60)
