"""The state directory is trusted like the project folder (its pickles run code when restored), so it must be
the user's alone: one another user owns or can write to is refused before anything in it is read or
written, its files are never opened through a symbolic link, and what it writes is readable by its owner
only. Through ``Sandbox`` and through ``run_local.py --state-dir`` as a real process."""

from __future__ import annotations

import os
import pickle
import signal
import stat
import subprocess
import sys

import pytest

from helpers.paths import PROJECT_ROOT
from sandbox.config import FunctionConfiguration, SandboxConfig
from sandbox.core import Sandbox
from sandbox.state import StateError
from sandbox.state.store import StateStore

RUN_LOCAL = [sys.executable, str(PROJECT_ROOT / "run_local.py")]
NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a directory of another user needs root")


class _Planted:
    """A pickle that creates a marker when it is loaded: the code another user would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _plant(directory, marker):
    """A state database (as a sandbox writes it) whose history holds the crafted pickle."""
    directory.mkdir(parents=True, exist_ok=True)
    store = StateStore(directory).open()
    store.put("record/planted#1", pickle.dumps(_Planted(marker)))
    store.close()
    (directory / "lock").unlink()
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def _sandbox(state_dir, **config):
    sb = Sandbox(
        SandboxConfig(port=0, web_port=None, state_dir=str(state_dir), full_cpu=True, **config),
        FunctionConfiguration(code_dir=PROJECT_ROOT / "handler"),
    ).start()
    sb.stop()  # reached only when the state directory was not refused
    return sb


def _run_local(state_dir) -> tuple[int | None, str]:
    """run_local.py's exit code and output; None when it got ready (it is stopped then)."""
    proc = subprocess.Popen(
        RUN_LOCAL + ["--port", "0", "--no-web", "--quiet", "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=PROJECT_ROOT,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "ready" in line:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
            return None, "".join(lines)
    return proc.wait(60), "".join(lines)


def _assert_refused_by_cli(state_dir, *words):
    code, text = _run_local(state_dir)
    assert code, text
    assert "Traceback" not in text and text.startswith("error: ") and text.count("\n") == 1, text
    for word in words:
        assert word in text, text
    return text


# -- a directory another user can write to, or owns ------------------------------------------------
@pytest.mark.parametrize("how", [{}, {"salvage": True}, {"fresh": True}])
def test_a_state_directory_others_can_write_to_is_refused_before_anything_is_read(tmp_path, how):
    state, marker = tmp_path / "shared", tmp_path / "planted-code-ran"
    before = _plant(state, marker)
    state.chmod(0o777)
    with pytest.raises(StateError) as refused:  # --salvage and --fresh neither read nor delete it
        _sandbox(state, **how)
    message = str(refused.value)
    assert str(state) in message and "chmod 700" in message and "0777" in message
    assert not marker.exists()  # the crafted pickle was not loaded
    assert {p.name: p.read_bytes() for p in state.iterdir()} == before  # nothing written, no lock file


def test_run_local_refuses_a_state_directory_others_can_write_to(tmp_path):
    base, marker = tmp_path / "shared", tmp_path / "planted-code-ran"
    before = _plant(base / "guide", marker)
    base.chmod(0o777)
    _assert_refused_by_cli(base, str(base), "chmod 700")
    assert not marker.exists()
    assert {p.name: p.read_bytes() for p in (base / "guide").iterdir()} == before


def test_run_local_refuses_a_stack_folder_others_can_write_to(tmp_path):
    base, marker = tmp_path / "mine", tmp_path / "planted-code-ran"
    base.mkdir(mode=0o700)
    _plant(base / "guide", marker)
    (base / "guide").chmod(0o777)
    _assert_refused_by_cli(base, str(base / "guide"), "chmod 700")
    assert not marker.exists()


@as_root
def test_a_state_directory_of_another_user_is_refused(tmp_path):
    state, marker = tmp_path / "theirs", tmp_path / "planted-code-ran"
    before = _plant(state, marker)
    state.chmod(0o700)
    os.chown(state, NOBODY, NOBODY)
    with pytest.raises(StateError, match="belongs to another user") as refused:
        _sandbox(state)
    assert str(state) in str(refused.value)
    assert not marker.exists()
    assert {p.name: p.read_bytes() for p in state.iterdir()} == before


@as_root
def test_run_local_refuses_a_state_directory_of_another_user(tmp_path):
    base, marker = tmp_path / "theirs", tmp_path / "planted-code-ran"
    _plant(base / "guide", marker)
    os.chown(base, NOBODY, NOBODY)
    _assert_refused_by_cli(base, str(base), "belongs to another user")
    assert not marker.exists()


# -- links -----------------------------------------------------------------------------------------
def test_a_lock_file_that_links_elsewhere_is_refused_and_its_target_untouched(tmp_path):
    state, victim = tmp_path / "state", tmp_path / "precious.txt"
    state.mkdir(mode=0o700)
    victim.write_text("the user's own file\n")
    (state / "lock").symlink_to(victim)
    with pytest.raises(StateError, match="symbolic link") as refused:
        _sandbox(state)
    assert str(state / "lock") in str(refused.value)
    assert victim.read_text() == "the user's own file\n"


def test_run_local_refuses_a_linked_lock_file_and_leaves_its_target(tmp_path):
    base, victim = tmp_path / "base", tmp_path / "precious.txt"
    (base / "guide").mkdir(parents=True, mode=0o700)
    victim.write_text("the user's own file\n")
    (base / "guide" / "lock").symlink_to(victim)
    _assert_refused_by_cli(base, "symbolic link")
    assert victim.read_text() == "the user's own file\n"


def test_a_database_that_links_elsewhere_is_refused(tmp_path):
    state, victim = tmp_path / "state", tmp_path / "precious.sqlite3"
    state.mkdir(mode=0o700)
    victim.write_bytes(b"")
    (state / "state.sqlite3-wal").symlink_to(victim)
    with pytest.raises(StateError, match="not a plain file"):
        _sandbox(state)
    assert victim.read_bytes() == b""


# -- what a state directory holds --------------------------------------------------------------------
def test_state_files_are_readable_by_their_owner_only(tmp_path):
    state = tmp_path / "state"
    sb = Sandbox(
        SandboxConfig(port=0, web_port=None, state_dir=str(state), full_cpu=True),
        FunctionConfiguration(code_dir=PROJECT_ROOT / "handler"),
    ).start()
    try:
        sb.s3.put_object(Bucket=sb.config.source_bucket, Key="x.txt", Body=b"x")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in state.iterdir() if p.is_file()}
    finally:
        sb.stop()
    assert {"state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm", "lock"} <= set(modes), modes
    assert all(mode == 0o600 for mode in modes.values()), modes
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "files").stat().st_mode) == 0o700


def test_a_lock_left_by_a_stopped_sandbox_is_taken_over(tmp_path):
    state = tmp_path / "state"
    _sandbox(state)
    (state / "lock").write_text("99999999")  # a process that is gone; its flock went with it
    _sandbox(state)


# -- a planted or damaged state in one's own directory -------------------------------------------------
def test_a_history_entry_that_is_not_an_invocation_gives_the_damaged_state_message(tmp_path):
    base = tmp_path / "base"
    (base / "guide").mkdir(parents=True, mode=0o700)
    store = StateStore(base / "guide").open()
    store.put("record/edited#1", pickle.dumps(42))
    store.close()
    with pytest.raises(StateError, match="record/edited#1 could not be read"):
        _sandbox(base / "guide")
    _assert_refused_by_cli(base, "record/edited#1 could not be read", "--salvage")


def test_a_position_that_is_not_json_gives_the_damaged_state_message(tmp_path):
    state = tmp_path / "state"
    _sandbox(state)
    store = StateStore(state).open()
    store.put("source/stacks", b"\x00not json")
    store.close()
    with pytest.raises(StateError, match="source/stacks could not be read"):
        _sandbox(state)
