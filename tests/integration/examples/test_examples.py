"""The examples' README walkthroughs run as written: the sandbox started with `run_local.py --example NAME`
(what `make run ARGS="--example NAME"` runs), then each command of the README's bash block with the real
AWS CLI. A command that checks an effect is retried until it holds, as a person would run it again."""
from __future__ import annotations

import shlex
import subprocess

import pytest

from helpers.examples import walkthrough
from helpers.paths import PROJECT_ROOT
from helpers.waiting import eventually

pytestmark = pytest.mark.slow


def _node_resize_missing():
    from sandbox.guide.example_setups.node_resize import missing

    return missing()


@pytest.mark.parametrize("running_example", ["queue", "stream", pytest.param("node-resize", marks=pytest.mark.skipif(
    bool(_node_resize_missing()), reason=str(_node_resize_missing())))], indirect=True)
def test_example_walkthrough_runs_as_written(running_example):
    name, env, banner = running_example
    assert f"example {name}" in banner
    for command in walkthrough(name):
        def run():
            return subprocess.run(shlex.split(command), cwd=PROJECT_ROOT, env=env, capture_output=True,
                                  text=True, timeout=120)
        wants_output = "--query" in command  # a query that finds nothing yet prints []
        result = eventually(run, lambda r: r.returncode == 0 and not (wants_output and r.stdout.strip() in ("[]", "")),
                            what=f"`{command}` to succeed", timeout=60, interval=0.5)
        assert "Traceback" not in result.stderr
