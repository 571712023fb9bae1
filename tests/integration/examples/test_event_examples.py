"""The examples about queues, streams, SNS, EventBridge and schedules: every command of each README runs as
written (tests/helpers/doc_commands.py), each walkthrough against `run_local.py --example NAME`, and what a
walkthrough says it shows is there. A module's tests share each example's sandbox (``run_locals``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.aws_cli import aws_cli_with
from helpers.doc_commands import run_doc, shell_docs
from helpers.paths import PROJECT_ROOT, SAMPLES
from helpers.waiting import eventually

pytestmark = pytest.mark.slow

DOCS_HERE = shell_docs(
    "examples/queue",
    "examples/stream",
    "examples/sns-fanout",
    "examples/eventbridge-patterns",
    "examples/schedule",
)


@pytest.mark.parametrize("doc", DOCS_HERE)
def test_every_shell_command_of_the_readme_runs_as_written(doc, run_locals, tmp_path):
    run_doc(doc, run_locals, tmp_path)


def test_the_schedule_examples_report_counts_the_resized_image_and_the_bytes_it_saved(run_locals):
    env, banner = run_locals.example("schedule")
    assert "cron(0 3 * * ? *)" in banner and "fire-rule bucket-report" in banner

    aws = aws_cli_with(env)
    uploaded = aws("s3", "cp", str(SAMPLES / "test.jpg"), "s3://source-image-bucket123/test.jpg")
    assert uploaded.returncode == 0, uploaded.stderr
    eventually(
        lambda: aws("s3", "ls", "s3://resized-image-bucket123/resized-test.jpg"),
        lambda r: r.returncode == 0,
        what="resized-test.jpg",
        interval=0.5,
    )
    fired = subprocess.run(
        [sys.executable, "run_local.py", "fire-rule", "bucket-report"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fired.returncode == 0, fired.stdout + fired.stderr
    report = json.loads(fired.stdout.split("success in", 1)[1].split("-> ", 1)[1].strip())
    assert report["images"] == 1 and report["resized"] == 1 and report["notResized"] == []
    assert 0 < report["resizedBytes"] < report["sourceBytes"] and report["bytesSaved"] > 0
