"""examples/api's README walkthrough runs as written: `run_local.py --example api` (what `make run
ARGS="--example api"` runs, on a free port), then each line of the README's bash block in bash with the
real AWS CLI and curl, a variable a line sets kept for the next ones, as in a person's terminal. A command
that fails (an image not resized yet) is run again until it succeeds, as a person would."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from conftest import PROJECT_ROOT, SAMPLES
from waiting import eventually

pytestmark = pytest.mark.slow
README = PROJECT_ROOT / "examples" / "api" / "README.md"


def walkthrough() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", README.read_text(), re.S).group(1)
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands[0].startswith('make run ARGS="--example api"')
    return commands[1:]


@pytest.fixture(scope="module")
def example_sandbox():
    process = subprocess.Popen([sys.executable, "run_local.py", "--port", "0", "--no-web", "--quiet",
                                "--example", "api"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("ready in"):
            break
    text = "".join(banner)
    endpoint = re.search(r"local AWS endpoint : (\S+)", text)
    assert endpoint and "example api" in text, text
    yield endpoint.group(1), text
    process.terminate()
    process.communicate(timeout=60)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough uses curl")
def test_api_example_walkthrough_runs_as_written(example_sandbox, tmp_path):
    endpoint, banner = example_sandbox
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("AWS_PROFILE", None)
    (tmp_path / "sample_images").symlink_to(SAMPLES)  # the README's paths are the project's
    outputs = []
    for command in walkthrough():
        assignment = re.fullmatch(r"(\w+)=\$\((.*)\)", command)
        script = assignment.group(2) if assignment else command

        def run():
            return subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=120)
        result = eventually(run, lambda r: r.returncode == 0 and (r.stdout.strip() or "-o" in script),
                            what=f"`{command}` to succeed", timeout=60, interval=0.5)
        if assignment:
            env[assignment.group(1)] = result.stdout.strip()
        outputs.append(result.stdout)
    assert env["API"] in banner and env["API"].endswith(f".execute-api.localhost:{endpoint.rsplit(':', 1)[1]}")
    assert '"uploaded": "s3://source-image-bucket123/test.jpg"' in outputs[1]
    with Image.open(tmp_path / "resized-test.jpg") as resized, Image.open(SAMPLES / "test.jpg") as original:
        assert (resized.format, resized.size) == ("JPEG", (original.width // 2, original.height // 2))
    assert "Stored s3://source-image-bucket123/test.jpg" in outputs[4]
