"""run_local.py as a user runs it: a real process, real ports, real signals."""

import json
import os
import shutil
import signal
import subprocess
import sys

import boto3
import psutil
import pytest
from aws_lambda_powertools.utilities.parser.models import S3Model

from helpers.paths import PROJECT_ROOT, SAMPLES
from helpers.processes import RunningSandbox, run_command
from helpers.waiting import eventually


def s3_put_event(**options) -> dict:
    """What ``run_local.py generate-event s3-put`` prints (its own process run is tested below), made
    in-process for the tests whose command is another one."""
    from sandbox.event_sources import sample_event

    return sample_event("s3-put", **options)


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    watch = tmp_path_factory.mktemp("drop")
    sandbox = RunningSandbox("--watch", str(watch))
    sandbox.watch = watch
    yield sandbox
    sandbox.stop()


@pytest.mark.slow
def test_banner_prints_endpoint_paste_lines_and_ready(running):
    text = running.banner
    assert running.port != 0  # the port it listens on, not the 0 it was given
    assert f"export AWS_ENDPOINT_URL={running.url}" in text
    assert "export AWS_ACCESS_KEY_ID=test" in text and "export AWS_DEFAULT_REGION=us-east-1" in text
    assert "ready in" in text


@pytest.mark.slow
def test_upload_command_prints_each_files_result(running):
    result = run_command("upload", str(SAMPLES / "test.jpg"), "--endpoint-url", running.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test.jpg: resized-test.jpg" in result.stdout


@pytest.mark.slow
def test_upload_reports_a_rejected_file_and_exits_nonzero(running, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    result = run_command("upload", str(bad), "--endpoint-url", running.url)
    assert "broken.jpg: rejected" in result.stdout or "broken.jpg: " in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_invoke_command_runs_in_the_running_sandbox_and_prints_logs(running, tmp_path):
    running.s3().upload_file(str(SAMPLES / "test.jpg"), "source-image-bucket123", "test.jpg")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(s3_put_event(bucket="source-image-bucket123", key="test.jpg")))
    result = run_command("invoke", "--event", str(event), "--endpoint-url", running.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "START RequestId:" in result.stdout and "REPORT RequestId:" in result.stdout
    assert '"statusCode": 200' in result.stdout


@pytest.mark.slow
def test_watched_folder_uploads_new_files(running):
    shutil.copy(SAMPLES / "test.jpg", running.watch / "dropped.jpg")
    _wait_for_key(running.s3(), "resized-dropped.jpg")


def test_generate_event_prints_a_complete_s3_put_event():
    result = run_command(
        "generate-event", "s3-put", "--bucket", "b-bucket", "--key", "my photo.jpg", "--size", "99"
    )
    event = json.loads(result.stdout)
    S3Model(**event)
    assert event["Records"][0]["s3"]["object"]["key"] == "my+photo.jpg"
    assert event["Records"][0]["s3"]["object"]["size"] == 99


@pytest.mark.slow
def test_busy_port_gives_one_clear_sentence(running):
    result = run_command("--port", str(running.port), "--no-web", timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"Port {running.port}" in result.stderr and "already in use" in result.stderr


def test_bad_configuration_value_gives_one_clear_sentence():
    result = run_command("--port", "0", "--no-web", "--memory", "64", timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Memory size must be" in result.stderr


def test_invoke_with_missing_event_file_says_so():
    result = run_command("invoke", "--event", "no-such-file.json")
    assert result.returncode == 2 and "Cannot read the event file" in result.stderr


@pytest.mark.slow
def test_sigterm_stops_the_sandbox_and_its_worker_processes():
    sandbox = RunningSandbox("--quiet")
    try:
        sandbox.s3().put_object(
            Bucket="source-image-bucket123", Key="w.jpg", Body=(SAMPLES / "test.jpg").read_bytes()
        )
        children = eventually(
            lambda: psutil.Process(sandbox.proc.pid).children(recursive=True),
            what="an execution environment (a worker process of the sandbox)",
        )
        sandbox.proc.send_signal(signal.SIGTERM)
        assert sandbox.proc.wait(20) == 0
        gone, alive = psutil.wait_procs(children, timeout=5)
        assert not alive
        rest = sandbox.output_after_ready()
        assert "session:" in rest and "invocations" in rest
    finally:
        sandbox.stop()


def test_help_lists_every_command():
    result = run_command("--help")
    for command in ("invoke", "generate-event", "upload", "redrive", "bench", "package"):
        assert command in result.stdout


def _wait_for_key(s3, key):
    """Wait until ``key`` is listed in the destination bucket."""
    eventually(
        lambda: [o["Key"] for o in s3.list_objects_v2(Bucket="resized-image-bucket123").get("Contents", [])],
        lambda keys: key in keys,
        what=f"s3://resized-image-bucket123/{key}",
        interval=0.2,
    )


@pytest.mark.slow
def test_redrive_command_resubmits_dead_lettered_events(running):
    s3 = running.s3()
    s3.upload_file(str(SAMPLES / "test.jpg"), "source-image-bucket123", "redrive/test.jpg")
    _wait_for_key(s3, "resized-redrive/test.jpg")  # the upload's own invocation is done
    sqs = boto3.client(
        "sqs",
        endpoint_url=running.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    url = sqs.get_queue_url(QueueName="ImageResizeLambda-dlq")["QueueUrl"]
    event = s3_put_event(key="redrive/test.jpg")
    s3.delete_object(Bucket="resized-image-bucket123", Key="resized-redrive/test.jpg")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    result = run_command("redrive", "--endpoint-url", running.url)
    assert result.returncode == 0, result.stderr
    assert "re-submitted 1 dead-lettered event(s)" in result.stdout
    _wait_for_key(s3, "resized-redrive/test.jpg")
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None


@pytest.mark.slow
def test_ctrl_c_stops_the_sandbox_cleanly():
    sandbox = RunningSandbox("--quiet")
    try:
        sandbox.proc.send_signal(signal.SIGINT)
        assert sandbox.proc.wait(20) == 0
        assert "Traceback" not in sandbox.output_after_ready()
    finally:
        sandbox.stop()


def _project_copy(tmp_path, venv_python: str | None):
    """run_local.py in a folder of its own beside the project's packages, with a `.venv` whose Python is
    ``venv_python`` (a script that runs it), or none."""
    for name in ("sandbox", "web", "handler"):
        (tmp_path / name).symlink_to(PROJECT_ROOT / name)
    shutil.copy(PROJECT_ROOT / "run_local.py", tmp_path / "run_local.py")
    if venv_python:
        (tmp_path / ".venv" / "bin").mkdir(parents=True)
        python = tmp_path / ".venv" / "bin" / "python"
        python.write_text(f'#!/bin/sh\nexec "{venv_python}" "$@"\n')
        python.chmod(0o755)
    return tmp_path / "run_local.py"


def test_run_local_with_a_python_lacking_the_packages_reruns_itself_with_dot_venvs(tmp_path):
    script = _project_copy(tmp_path, sys.executable)
    # -S: no site-packages, as the system's python3 has none of the sandbox's packages
    result = subprocess.run(
        [sys.executable, "-S", str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "RUN_LOCAL_REEXEC"},
    )
    assert result.returncode == 0, result.stderr
    assert "usage: run_local.py" in result.stdout
    assert "lacks the sandbox's packages; running it with" in result.stderr and ".venv" in result.stderr


def test_run_local_without_a_venv_says_what_to_do_in_one_sentence(tmp_path):
    script = _project_copy(tmp_path, None)
    result = subprocess.run(
        [sys.executable, "-S", str(script), "fire-rule", "bucket-report"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "run `make run` once" in result.stderr and ".venv/bin/python run_local.py" in result.stderr


@pytest.mark.slow
def test_upload_of_a_folder_takes_its_images_and_says_what_it_skipped(running, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(SAMPLES / "test.jpg", folder / "test.jpg")
    (folder / "README.md").write_text("# my photos\n")
    (folder / "make_samples.py").write_text("print('hi')\n")
    result = run_command("upload", str(folder), "--prefix", "folder-upload/", "--endpoint-url", running.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped 2 file(s) that are not images: README.md, make_samples.py (--all" in result.stdout
    listed = running.s3().list_objects_v2(Bucket="source-image-bucket123", Prefix="folder-upload/")
    assert [o["Key"] for o in listed["Contents"]] == ["folder-upload/test.jpg"]


@pytest.mark.slow
def test_invoke_of_an_s3_event_for_a_missing_object_says_so_before_invoking(running, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps(s3_put_event(key="my photo.jpg")))
    result = run_command("invoke", "--event", str(event), "--endpoint-url", running.url)
    warning = (
        "no such object: s3://source-image-bucket123/my photo.jpg — upload it first, or use --upload FILE"
    )
    assert warning in result.stderr
    assert "START RequestId:" in result.stdout  # then invoked all the same: its log lines follow


@pytest.mark.slow
def test_invoke_upload_uploads_the_file_then_invokes_with_its_event(running):
    result = run_command(
        "invoke",
        "--upload",
        str(SAMPLES / "test.jpg"),
        "--key",
        "invoke-upload/test.jpg",
        "--endpoint-url",
        running.url,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no such object" not in result.stderr
    assert "REPORT RequestId:" in result.stdout and '"statusCode": 200' in result.stdout
    assert "resized-invoke-upload/test.jpg" in result.stdout


@pytest.mark.slow
def test_an_examples_banner_says_its_state_is_kept_apart_and_where_the_guides_is(tmp_path):
    sandbox = RunningSandbox("--quiet", "--state-dir", str(tmp_path), "--example", "queue")
    try:
        assert f"{tmp_path / 'guide+examples-queue'} (new)" in sandbox.banner
        guide = tmp_path / "guide"
        assert f"kept apart from plain `make run`'s state (its uploads are in {guide}" in sandbox.banner
    finally:
        sandbox.stop()
