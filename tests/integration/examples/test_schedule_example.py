"""examples/schedule: its README walkthrough runs as written against `run_local.py --example schedule`
(with the examples' own harness; `python` is this interpreter, as in an activated venv), and the report
it writes counts the buckets right."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from helpers.examples import walkthrough
from helpers.paths import PROJECT_ROOT
from helpers.waiting import eventually

pytestmark = pytest.mark.slow


def run(command: str, env: dict) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    if argv[0] == "python":
        argv[0] = sys.executable
    return subprocess.run(argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("running_example", ["schedule"], indirect=True)
def test_schedule_example_walkthrough_runs_as_written_and_reports_the_buckets(running_example):
    name, env, banner = running_example
    assert (
        "example schedule" in banner and "cron(0 3 * * ? *)" in banner and "fire-rule bucket-report" in banner
    )
    for command in walkthrough(name):
        wants_output = "--query" in command
        result = eventually(
            lambda command=command: run(command, env),
            lambda r, wants_output=wants_output: (
                r.returncode == 0 and not (wants_output and r.stdout.strip() in ("[]", ""))
            ),
            what=f"`{command}` to succeed",
            timeout=60,
            interval=0.5,
        )
        assert "Traceback" not in result.stderr
    # once test.jpg is resized, a report counts it with the bytes saved
    eventually(
        lambda: run("aws s3 ls s3://resized-image-bucket123/resized-test.jpg", env),
        lambda r: r.returncode == 0,
        what="resized-test.jpg",
    )
    fired = run("python run_local.py fire-rule bucket-report", env)
    assert fired.returncode == 0, fired.stdout + fired.stderr
    report = json.loads(fired.stdout.split("success in", 1)[1].split("-> ", 1)[1].strip())
    assert report["images"] == 1 and report["resized"] == 1 and report["notResized"] == []
    assert 0 < report["resizedBytes"] < report["sourceBytes"] and report["bytesSaved"] > 0
