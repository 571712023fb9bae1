"""examples/node-resize end to end: `run_local.py --example node-resize`, every sample image uploaded with
the real AWS CLI, each resized to half its (EXIF-oriented) size as resized-<key>, with logs in AWS's Node
format."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from helpers.paths import PROJECT_ROOT, SAMPLES
from helpers.waiting import eventually

pytestmark = pytest.mark.slow
AWS = os.path.join(os.path.dirname(sys.executable), "aws")
IMAGES = [
    "holiday photo.jpg",
    "gray-16bit.png",
    "palette.gif",
    "pixel.png",
    "portrait-exif-6.jpg",
    "test.jpg",
    "transparent-logo.png",
]


@pytest.fixture(scope="module")
def example():
    from sandbox.guide.example_setups.node_resize import missing

    reason = missing()
    if reason:
        pytest.skip(reason)
    process = subprocess.Popen(
        [sys.executable, "run_local.py", "--port", "0", "--no-web", "--quiet", "--example", "node-resize"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("ready in"):
            break
    endpoint = re.search(r"local AWS endpoint : (\S+)", "".join(banner))
    assert endpoint, "".join(banner) + (process.stderr.read() if process.poll() is not None else "")
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint.group(1),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("AWS_PROFILE", None)
    yield env, "".join(banner)
    process.terminate()
    process.communicate(timeout=60)


def aws(env, *args) -> str:
    result = subprocess.run([AWS, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_sample_image_is_resized_to_half_by_the_node_function(example, tmp_path):
    from PIL import Image, ImageOps

    env, banner = example
    assert "NodeImageResizeLambda (nodejs22.x, index.handler)" in banner
    aws(
        env,
        "s3",
        "cp",
        str(SAMPLES),
        "s3://node-image-bucket123/",
        "--recursive",
        "--exclude",
        "*",
        *[arg for name in IMAGES for arg in ("--include", name)],
    )
    listed = eventually(
        lambda: aws(env, "s3", "ls", "s3://resized-image-bucket123/"),
        lambda out: all(f"resized-{name}" in out for name in IMAGES),
        what="every resized copy",
        timeout=120,
        interval=1,
    )
    assert listed
    for name in IMAGES:
        out = tmp_path / f"resized-{name}"
        aws(env, "s3", "cp", f"s3://resized-image-bucket123/resized-{name}", str(out))
        with Image.open(SAMPLES / name) as source, Image.open(out) as resized:
            width, height = ImageOps.exif_transpose(source).size
            assert resized.size == (max(1, width // 2), max(1, height // 2)), name
            assert resized.format == source.format, name


def test_its_logs_are_in_the_node_runtimes_format(example):
    env, _ = example
    messages = eventually(
        lambda: (
            json.loads(
                aws(
                    env,
                    "logs",
                    "filter-log-events",
                    "--log-group-name",
                    "/aws/lambda/NodeImageResizeLambda",
                    "--query",
                    "events[].message",
                )
            )
            or []
        ),
        lambda found: any("resized s3://" in m for m in found),
        what="the function's log lines",
        timeout=120,
    )
    line = next(m for m in messages if "resized s3://" in m)
    iso_time = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.match(rf"^{iso_time}\t[0-9a-f-]{{36}}\tINFO\tresized s3://node-image-bucket123/", line), line
    assert any(m.startswith("REPORT RequestId:") and "Init Duration" in m for m in messages)
