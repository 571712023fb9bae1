"""The real AWS CLI pointed at a sandbox, as its banner says to point it."""

from __future__ import annotations

import os
import subprocess
import sys


def aws_cli(sb):
    """The AWS CLI pointed at the sandbox, as the banner says to point it: ``run(*args, cwd=None)``."""
    env = {**os.environ, **sb.client_environment()}
    env.pop("AWS_PROFILE", None)

    def run(*args, cwd=None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "awscli", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    return run
