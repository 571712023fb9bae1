"""The examples' README walkthroughs run as written: the sandbox started with `run_local.py --example NAME`
(what `make run ARGS="--example NAME"` runs), then each command of the README's bash block with the real
AWS CLI. A command that checks an effect is retried until it holds, as a person would run it again."""

from __future__ import annotations

import re
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


def _node_missing():
    from sandbox.guide.example_setups.response_streaming import missing

    return missing()


_ASSIGNMENT = re.compile(r"^(?P<name>[A-Z_]+)=\$\((?P<command>.*)\)$")


def _expand(arg: str, variables: dict) -> str:
    """``$NAME`` and ``${NAME}`` as the shell expands them (a name it does not know stays as written)."""
    return re.sub(r"\$\{?([A-Z_]+)\}?", lambda m: variables.get(m.group(1), m.group(0)), arg)


@pytest.mark.parametrize(
    "running_example",
    [
        "queue",
        "stream",
        "function-url",
        "versions",
        "sns-fanout",
        "eventbridge-patterns",
        pytest.param(
            "node-resize",
            marks=pytest.mark.skipif(bool(_node_resize_missing()), reason=str(_node_resize_missing())),
        ),
        pytest.param(
            "response-streaming",
            marks=pytest.mark.skipif(bool(_node_missing()), reason=str(_node_missing())),
        ),
    ],
    indirect=True,
)
def test_example_walkthrough_runs_as_written(running_example):
    name, env, banner = running_example
    assert f"example {name}" in banner
    variables: dict[str, str] = {}  # the walkthrough's NAME=$(command) lines, used as $NAME / ${NAME}
    for line in walkthrough(name):
        assignment = _ASSIGNMENT.match(line)
        command = assignment.group("command") if assignment else line
        argv = [_expand(arg, {**env, **variables}) for arg in shlex.split(command)]

        def run(argv=argv):
            return subprocess.run(
                argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
            )

        wants_output = "--query" in command  # a query that finds nothing yet prints []
        result = eventually(
            run,
            lambda r, wants_output=wants_output: (
                r.returncode == 0 and not (wants_output and r.stdout.strip() in ("[]", ""))
            ),
            what=f"`{command}` to succeed",
            timeout=60,
            interval=0.5,
        )
        assert "Traceback" not in result.stderr
        if assignment:
            variables[assignment.group("name")] = result.stdout.strip()
