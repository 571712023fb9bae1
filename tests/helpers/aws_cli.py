"""The real AWS CLI pointed at a sandbox, as its banner says to point it (this venv's awscli, started
through helpers.preloaded_aws_cli)."""

from __future__ import annotations

import os
import subprocess

from helpers import preloaded_aws_cli


def aws_command() -> list[str]:
    """The argv that runs this venv's AWS CLI: ``[*aws_command(), "s3", "ls"]``."""
    return preloaded_aws_cli.command()


def aws_cli(sb):
    """The AWS CLI pointed at the sandbox, as the banner says to point it: ``run(*args, cwd=None)``."""
    return aws_cli_with({**os.environ, **sb.client_environment()})


def aws_cli_with(env: dict):
    """The AWS CLI of this venv in a terminal with ``env`` (its export lines pasted): ``run(*args)``."""
    env = {k: v for k, v in env.items() if k != "AWS_PROFILE"}

    def run(*args, cwd=None, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*aws_command(), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
