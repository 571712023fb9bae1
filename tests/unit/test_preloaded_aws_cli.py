"""The tests' AWS CLI (helpers.preloaded_aws_cli) answers exactly as the venv's `aws` does: the same
output, errors and exit status, with the caller's environment, working directory and standard input;
and a command dies with its client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from helpers import preloaded_aws_cli

pytestmark = pytest.mark.skipif(not preloaded_aws_cli.available(), reason="the preloaded CLI needs Linux")

UNREACHABLE = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_MAX_ATTEMPTS": "1",
}


def both(args: list[str], tmp_path, stdin: str = "") -> tuple[subprocess.CompletedProcess, ...]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **UNREACHABLE}
    return tuple(
        subprocess.run(
            [*command, *args], env=env, cwd=tmp_path, input=stdin, capture_output=True, text=True, timeout=60
        )
        for command in ([str(Path(sys.executable).parent / "aws")], preloaded_aws_cli.command())
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["lambda", "no-such-command"],
        ["s3", "ls", "--cli-connect-timeout", "1"],
        ["configure", "get", "region"],
        [
            "lambda",
            "invoke",
            "--function-name",
            "f",
            "--payload",
            "{}",
            "out.json",
            "--cli-connect-timeout",
            "1",
        ],
    ],
    ids=["version", "usage-error", "connection-error", "environment", "relative-path"],
)
def test_a_command_answers_as_the_plain_cli_does(args, tmp_path):
    plain, preloaded = both(args, tmp_path)
    assert (preloaded.returncode, preloaded.stdout, preloaded.stderr) == (
        plain.returncode,
        plain.stdout,
        plain.stderr,
    )


def test_standard_input_reaches_the_command(tmp_path):
    plain, preloaded = both(
        ["s3", "cp", "-", "s3://bucket/key", "--cli-connect-timeout", "1"], tmp_path, "hi"
    )
    assert preloaded.returncode == plain.returncode != 0
    assert preloaded.stderr == plain.stderr and "s3://bucket/key" in plain.stderr


def test_a_command_whose_client_is_killed_is_killed_too(tmp_path):
    aws = preloaded_aws_cli.command()  # the server runs from here on
    [server] = [p for p in psutil.Process().children() if preloaded_aws_cli.__file__ in p.cmdline()]
    client = subprocess.Popen(
        [*aws, "s3", "cp", "-", "s3://bucket/key"],
        stdin=subprocess.PIPE,  # never closed: the command waits for the rest of its input
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **UNREACHABLE},
    )
    deadline = time.monotonic() + 10
    while not server.children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.children(), "the command did not start"
    client.kill()
    client.wait()
    deadline = time.monotonic() + 10
    while server.children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.children()
