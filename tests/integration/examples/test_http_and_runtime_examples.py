"""The examples about API Gateway, function URLs, versions, response streaming and the Node.js runtime:
every command of each README runs as written (tests/helpers/doc_commands.py), each walkthrough against
`run_local.py --example NAME`, and what each example shows holds: the API's half-size copy, every sample
image resized by the Node.js function with logs in Node's format, a function URL's response arriving as the
function writes it. A module's tests share each example's sandbox (``run_locals``)."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from http.client import HTTPConnection
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from helpers.aws_cli import aws_cli_with
from helpers.doc_commands import run_doc, shell_docs
from helpers.paths import SAMPLES
from helpers.waiting import eventually

pytestmark = pytest.mark.slow

DOCS_HERE = shell_docs(
    "examples/api",
    "examples/function-url",
    "examples/versions",
    "examples/response-streaming",
    "examples/node-resize",
)


def _the_api_stores_lists_and_serves_the_half_size_copy(outputs: dict[str, str], workdir: Path, banner: str):
    api = outputs[next(c for c in outputs if c.startswith("API="))].strip()
    assert api in banner and re.fullmatch(r"http://\w+\.execute-api\.localhost:\d+", api), api
    put = outputs[next(c for c in outputs if c.startswith("curl -X PUT"))]
    assert '"uploaded": "s3://source-image-bucket123/test.jpg"' in put, put
    with Image.open(workdir / "resized-test.jpg") as resized, Image.open(SAMPLES / "test.jpg") as original:
        assert (resized.format, resized.size) == ("JPEG", (original.width // 2, original.height // 2))
    logs = outputs[next(c for c in outputs if c.startswith("aws logs filter-log-events"))]
    assert "Stored s3://source-image-bucket123/test.jpg" in logs, logs


WHAT_IT_SHOWS = {"api": _the_api_stores_lists_and_serves_the_half_size_copy}


@pytest.mark.parametrize("doc", DOCS_HERE)
def test_every_shell_command_of_the_readme_runs_as_written_and_shows_what_it_says(doc, run_locals, tmp_path):
    outputs = dict(run_doc(doc, run_locals, tmp_path))
    check = WHAT_IT_SHOWS.get(doc.parent.name)
    if check is not None:
        check(outputs, tmp_path, run_locals.example(doc.parent.name)[1])


# -- examples/node-resize ---------------------------------------------------------------------------------
NODE_IMAGES = [
    "holiday photo.jpg",
    "gray-16bit.png",
    "palette.gif",
    "pixel.png",
    "portrait-exif-6.jpg",
    "test.jpg",
    "transparent-logo.png",
]


def _needs_example(name: str):
    from sandbox.guide.example_setups import node_resize, response_streaming

    reason = {"node-resize": node_resize, "response-streaming": response_streaming}[name].missing()
    if reason:
        pytest.skip(reason)


def _aws(env, *args) -> str:
    result = aws_cli_with(env)(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_sample_image_is_resized_to_half_by_the_node_function(run_locals, tmp_path):
    _needs_example("node-resize")
    env, banner = run_locals.example("node-resize")
    assert "NodeImageResizeLambda (nodejs22.x, index.handler)" in banner
    only_these = [arg for name in NODE_IMAGES for arg in ("--include", name)]
    bucket = "s3://node-image-bucket123/"
    _aws(env, "s3", "cp", str(SAMPLES), bucket, "--recursive", "--exclude", "*", *only_these)
    eventually(
        lambda: _aws(env, "s3", "ls", "s3://resized-image-bucket123/"),
        lambda out: all(f"resized-{name}" in out for name in NODE_IMAGES),
        what="every resized copy",
        timeout=120,
        interval=0.5,
    )
    _aws(
        env,
        "s3",
        "cp",
        "s3://resized-image-bucket123/",
        str(tmp_path),
        "--recursive",
        "--exclude",
        "*",
        *[arg for name in NODE_IMAGES for arg in ("--include", f"resized-{name}")],
    )
    for name in NODE_IMAGES:
        with Image.open(SAMPLES / name) as source, Image.open(tmp_path / f"resized-{name}") as resized:
            width, height = ImageOps.exif_transpose(source).size
            assert resized.size == (max(1, width // 2), max(1, height // 2)), name
            assert resized.format == source.format, name


def test_the_node_functions_logs_are_in_the_node_runtimes_format(run_locals):
    _needs_example("node-resize")
    env, _ = run_locals.example("node-resize")
    _aws(env, "s3", "cp", str(SAMPLES / "test.jpg"), "s3://node-image-bucket123/logged.jpg")
    messages = eventually(
        lambda: (
            json.loads(
                _aws(
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
        lambda found: any("resized s3://node-image-bucket123/logged.jpg" in m for m in found),
        what="the function's log lines",
        timeout=120,
        interval=0.5,
    )
    line = next(m for m in messages if "resized s3://node-image-bucket123/logged.jpg" in m)
    iso_time = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.match(rf"^{iso_time}\t[0-9a-f-]{{36}}\tINFO\tresized s3://node-image-bucket123/", line), line
    assert any(m.startswith("REPORT RequestId:") and "Init Duration" in m for m in messages)


# -- examples/response-streaming ----------------------------------------------------------------------------
PAUSE_S = 0.4  # examples/response-streaming/index.mjs: PAUSE_MS between steps


def _arrivals(url: str) -> tuple[object, list[tuple[float, bytes]]]:
    """The response and (seconds since the request, line) for each line of its body, as it arrives."""
    parts = urllib.parse.urlsplit(url)
    connection = HTTPConnection(parts.hostname, parts.port, timeout=60)
    started = time.monotonic()
    connection.request("GET", f"{parts.path}?{parts.query}")
    response = connection.getresponse()
    lines = []
    while line := response.readline():  # http.client undoes the chunking; readline returns as a line arrives
        lines.append((time.monotonic() - started, line))
    connection.close()
    return response, lines


def test_the_function_url_sends_each_step_as_the_function_writes_it(run_locals):
    _needs_example("response-streaming")
    _, banner = run_locals.example("response-streaming")
    url = re.search(r"\(or (http://127\.0\.0\.1:\d+/_aws/lambda-url/\w+/\?steps=3)\)", banner).group(1)
    response, lines = _arrivals(url)

    assert response.status == 200
    assert response.getheader("Content-Type") == "text/plain; charset=utf-8"  # HttpResponseStream.from's
    request_id = response.getheader("X-Job-Id")
    assert request_id and response.getheader("x-amzn-RequestId") == request_id
    body = [line.decode() for _, line in lines]
    assert body[0] == f"job {request_id}: 3 steps\n"
    assert [b.split(" (")[0] for b in body[1:]] == [
        "step 1/3: read the upload",
        "step 2/3: decode the image",
        "step 3/3: resize to half",
        "done\n",
    ]
    # The function sleeps PAUSE_S between its writes: had the response been buffered, the first line would
    # arrive with the last. A slower machine only widens the gap.
    first, last = lines[0][0], lines[-1][0]
    assert last - first >= 3 * PAUSE_S * 0.9, lines
