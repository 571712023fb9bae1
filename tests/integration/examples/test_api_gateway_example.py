"""examples/api's README walkthrough runs as written: `run_local.py --example api` (what `make run
ARGS="--example api"` runs, on a free port: the fixture in this folder's conftest.py), then each line of
the README's bash block in bash with the real AWS CLI and curl, a variable a line sets kept for the next
ones, as in a person's terminal. A command that fails (an image not resized yet) is run again until it
succeeds, as a person would."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from PIL import Image

from helpers.examples import walkthrough
from helpers.paths import SAMPLES
from helpers.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough uses curl")
@pytest.mark.parametrize("running_example", ["api"], indirect=True)
def test_api_example_walkthrough_runs_as_written(running_example, tmp_path):
    _, env, banner = running_example
    env = dict(env)
    endpoint = env["AWS_ENDPOINT_URL"]
    (tmp_path / "sample_images").symlink_to(SAMPLES)  # the README's paths are the project's
    outputs = []
    for command in walkthrough("api"):
        assignment = re.fullmatch(r"(\w+)=\$\((.*)\)", command)
        script = assignment.group(2) if assignment else command

        def run(script=script):
            return subprocess.run(
                ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
            )

        result = eventually(
            run,
            lambda r, script=script: r.returncode == 0 and (r.stdout.strip() or "-o" in script),
            what=f"`{command}` to succeed",
            timeout=60,
            interval=0.5,
        )
        if assignment:
            env[assignment.group(1)] = result.stdout.strip()
        outputs.append(result.stdout)
    assert env["API"] in banner and env["API"].endswith(
        f".execute-api.localhost:{endpoint.rsplit(':', 1)[1]}"
    )
    assert '"uploaded": "s3://source-image-bucket123/test.jpg"' in outputs[1]
    with Image.open(tmp_path / "resized-test.jpg") as resized, Image.open(SAMPLES / "test.jpg") as original:
        assert (resized.format, resized.size) == ("JPEG", (original.width // 2, original.height // 2))
    assert "Stored s3://source-image-bucket123/test.jpg" in outputs[4]
