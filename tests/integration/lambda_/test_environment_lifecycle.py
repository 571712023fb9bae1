"""When execution environments end: a saved change to the function's code retires them (the next
invocation is cold, with the new code); one idle longer than the idle timeout is shut down."""

import shutil

import pytest

from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually
from sandbox.config import FunctionConfiguration, SandboxConfig
from sandbox.core import Sandbox


@pytest.mark.slow
def test_saving_a_file_in_the_code_directory_makes_the_next_invocation_cold(tmp_path):
    code = tmp_path / "code"
    shutil.copytree(HANDLERS / "faults", code)
    sb = start_sandbox(code)
    try:
        assert sb.invoke({"action": "ok"}).cold_start is True
        assert sb.invoke({"action": "ok"}).cold_start is False
        source = code / "lambda_function.py"
        source.write_text(
            source.read_text().replace(
                'return {"ok": True, "pid": os.getpid()}', 'return {"ok": "reloaded", "pid": os.getpid()}'
            )
        )
        # The code watcher debounces the save, then retires the environments; until then calls stay warm.
        record = eventually(
            lambda: sb.invoke({"action": "ok"}),
            lambda r: r.result.get("ok") == "reloaded",
            what="an invocation that runs the saved code",
            interval=0.2,
        )
        assert record.cold_start is True
    finally:
        sb.stop()


@pytest.mark.slow
def test_idle_environments_are_shut_down_after_the_idle_timeout():
    config = SandboxConfig(port=0, web_port=None, idle_timeout_s=0.5)
    with Sandbox(config, FunctionConfiguration(code_dir=HANDLERS / "faults")) as sandbox:
        first = sandbox.invoke({"action": "ok"})
        runtime = sandbox.runtime("ImageResizeLambda")
        assert runtime.describe()
        eventually(
            runtime.describe,
            lambda environments: environments == [],
            what="the idle environment to be shut down",
        )
        again = sandbox.invoke({"action": "ok"})
        assert again.cold_start is True and again.result["pid"] != first.result["pid"]
