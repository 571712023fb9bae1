"""The examples' README walkthroughs run as written: the sandbox started with `run_local.py --example NAME`
(what `make run ARGS="--example NAME"` runs), then each command of the README's bash block with the real
AWS CLI. A command that checks an effect is retried until it holds, as a person would run it again."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from contextlib import contextmanager

import pytest

from conftest import PROJECT_ROOT
from waiting import eventually

pytestmark = pytest.mark.slow
EXAMPLES = PROJECT_ROOT / "examples"


def walkthrough(name: str) -> list[str]:
    text = (EXAMPLES / name / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands[0].startswith(f'make run ARGS="--example {name}"')
    return commands[1:]


@contextmanager
def started_run_local(*args: str):
    """`run_local.py ARGS` as a user starts it (on a free port, no page, no live tail): yields the
    environment of a terminal where its export lines were pasted, and its banner."""
    process = subprocess.Popen([sys.executable, "run_local.py", "--port", "0", "--no-web", "--quiet", *args],
                               cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("ready in"):
                break
        endpoint = re.search(r"local AWS endpoint : (\S+)", "".join(banner))
        assert endpoint, "".join(banner) + process.stderr.read() if process.poll() is not None else "".join(banner)
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint.group(1), "AWS_ACCESS_KEY_ID": "test",
               "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
        env.pop("AWS_PROFILE", None)
        yield env, "".join(banner)
    finally:
        process.terminate()
        process.communicate(timeout=60)


@pytest.fixture
def running_example(request):
    name = request.param
    with started_run_local("--example", name) as (env, banner):
        yield name, env, banner


def _node_resize_missing():
    from sandbox.guide.example_setups.node_resize import missing

    return missing()


_ASSIGNMENT = re.compile(r"^(?P<name>[A-Z_]+)=\$\((?P<command>.*)\)$")


def _expand(arg: str, variables: dict) -> str:
    """``$NAME`` and ``${NAME}`` as the shell expands them (a name it does not know stays as written)."""
    return re.sub(r"\$\{?([A-Z_]+)\}?", lambda m: variables.get(m.group(1), m.group(0)), arg)


@pytest.mark.parametrize("running_example", ["queue", "stream", "function-url", pytest.param(
    "node-resize", marks=pytest.mark.skipif(bool(_node_resize_missing()), reason=str(_node_resize_missing())))],
    indirect=True)
def test_example_walkthrough_runs_as_written(running_example):
    name, env, banner = running_example
    assert f"example {name}" in banner
    variables: dict[str, str] = {}  # the walkthrough's NAME=$(command) lines, used as $NAME / ${NAME}
    for line in walkthrough(name):
        assignment = _ASSIGNMENT.match(line)
        command = assignment.group("command") if assignment else line
        argv = [_expand(arg, {**env, **variables}) for arg in shlex.split(command)]

        def run():
            return subprocess.run(argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                                  timeout=120)
        wants_output = "--query" in command  # a query that finds nothing yet prints []
        result = eventually(run, lambda r: r.returncode == 0 and not (wants_output and r.stdout.strip() in ("[]", "")),
                            what=f"`{command}` to succeed", timeout=60, interval=0.5)
        assert "Traceback" not in result.stderr
        if assignment:
            variables[assignment.group("name")] = result.stdout.strip()
