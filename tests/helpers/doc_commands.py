"""Every command in the docs works as a newcomer types it: each ```sh, ```bash and ```console block of the
README, docs/ and examples/ is run, command by command, in a terminal set up as the banner says (its
export lines pasted, `python` the venv's) against a running sandbox: `run_local.py` for the guide, or
`run_local.py --example NAME` for a block that starts with `make run ARGS="--example NAME"`, each started
once per test module (``RunningSandboxes``) so the module's other tests check more against the same one.
A command that checks an effect is run again until it holds, as a person would. The tests that run them
are tests/integration/cli/test_docs_commands.py (the README and docs/) and tests/integration/examples/
test_{event,http_and_runtime}_examples.py (the examples' READMEs, in two files so two workers share them)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from helpers import preloaded_aws_cli
from helpers.examples import started_run_local
from helpers.paths import PROJECT_ROOT
from helpers.waiting import eventually

DOCS = [
    PROJECT_ROOT / "README.md",
    *sorted((PROJECT_ROOT / "docs").glob("**/*.md")),
    *sorted(p for p in (PROJECT_ROOT / "examples").glob("**/README.md") if "node_modules" not in p.parts),
    PROJECT_ROOT / "notebooks" / "README.md",
    PROJECT_ROOT / "sample_images" / "README.md",
]
# A block whose info string says more than the language (```sh on-aws) is for a real AWS account: not run.
FENCE = re.compile(r"^```(sh|bash|console|powershell)[ \t]*\n(.*?)^```", re.S | re.M)
EXAMPLE_LEAD = re.compile(r'make run ARGS="--example ([\w-]+)"')
PLACEHOLDER = re.compile(r"<[a-z][\w-]*>|\.\.\.")  # <account>, <api-id>, path/... : the reader fills it in

# Commands a test cannot run, each with why. Everything else in a shell block runs.
SKIP = [
    (r"^make (run|test|notebook|bench)\b", "starts the sandbox or the whole suite: the test starts its own"),
    (r"(^|/)python3? -m venv\b|-m pip install|^pip install", "installs packages: the test runs in the venv"),
    (r"^source .venv/bin/activate|^\.venv\\", "activates a venv (the test's shell is the venv's already)"),
    (r"^export AWS_", "the banner's export lines: the test's environment has them, for its own port"),
    (r"^aws configure\b", "writes the user's ~/.aws"),
    (r"-m pytest\b", "the whole suite"),
    (
        r"run_local\.py( --state-dir \S+)?( --template .*| --example .*| --code-dir \S+)?$",
        "starts a sandbox: the test has one",
    ),
    (r"run_local\.py (bench|deploy --aws|destroy --aws)\b", "minutes of benchmarks, or the real AWS"),
    (r"photo-12mp\.jpg", "photo-12mp.jpg stands for your own photo"),
    (r"--cli-binary-format", "AWS CLI v2 only; the tests' CLI is v1 (awscli on PyPI)"),
]


def blocks(doc: Path, language: str | None = None) -> list[tuple[str, str]]:
    """(language, text) of each fenced block of ``doc``."""
    return [
        (m.group(1), m.group(2))
        for m in FENCE.finditer(doc.read_text(encoding="utf-8"))
        if language is None or m.group(1) == language
    ]


def commands(language: str, text: str) -> list[str]:
    """The block's commands: continuation lines joined, comments (after two spaces) dropped; in a console
    block only the `$ ` lines."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        if language == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:]
        command = re.split(r"\s{2,}#", line)[0].strip()
        if command and not command.startswith("#"):
            found.append(command)
    return found


def skipped(command: str) -> str | None:
    if PLACEHOLDER.search(command):
        return "a placeholder for the reader to fill in"
    return next((why for pattern, why in SKIP if re.search(pattern, command)), None)


def shell_blocks(doc: Path) -> list[tuple[str | None, list[str]]]:
    """(example to start, commands) of each shell block: an example's walkthrough names it first."""
    found, example = [], None
    for language, text in blocks(doc):
        if language != "powershell":
            lines = commands(language, text)
            lead = EXAMPLE_LEAD.match(lines[0]) if lines else None
            if lead:  # this block starts an example's sandbox; the README's later blocks use it too
                example, lines = lead.group(1), lines[1:]
            found.append((example, lines))
    return found


def terminal(env: dict, workdir: Path) -> dict:
    """A newcomer's terminal: the export lines pasted, `python` and `aws` the venv's (`aws` through
    helpers.preloaded_aws_cli), no pager."""
    return {
        **env,
        "PATH": os.pathsep.join(
            [str(preloaded_aws_cli.bin_dir()), str(Path(sys.executable).parent), env["PATH"]]
        ),
        "AWS_PAGER": "",
        "HOME": env.get("HOME", str(workdir)),
    }


def checkout_copy(tmp: Path) -> Path:
    """The project as a fresh clone shows it (every entry linked), with `.venv` the test's venv, so files
    the commands write (out.json, packaged.yaml, tune.png) land in ``tmp``, not in the project."""
    for entry in PROJECT_ROOT.iterdir():
        if entry.name not in (".venv", ".git", ".sandbox-state", "test-output"):
            (tmp / entry.name).symlink_to(entry)
    (tmp / ".venv").symlink_to(sys.prefix)
    return tmp


def run_commands(lines: list[str], env: dict, workdir: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Run each command (variables set by earlier ones kept); return those skipped, with why, and
    (command, what it printed) for those run."""
    assignments, passed_over, outputs = "", [], []
    for command in lines:
        why = skipped(command)
        if why:
            passed_over.append(f"{command}  ({why})")
            continue
        variable = re.match(r"^([A-Z_]+)=(.*)$", command)
        script = assignments + (f'{command}; printf %s "${variable.group(1)}"' if variable else command)

        def run(script=script):
            return subprocess.run(
                ["bash", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=180
            )

        wants_output = bool(variable) or "--query" in command  # a query that finds nothing yet prints []
        result = eventually(
            run,
            lambda r, wants_output=wants_output: (
                r.returncode == 0 and not (wants_output and r.stdout.strip() in ("[]", "", "None"))
            ),
            what=f"`{command}` to succeed",
            timeout=60,
            interval=0.5,
        )
        assert "Traceback" not in result.stderr, f"`{command}`:\n{result.stderr}"
        outputs.append((command, result.stdout))
        if variable:
            assignments += f"{variable.group(1)}={shlex.quote(result.stdout.strip())}\n"
    return passed_over, outputs


def _needs(doc: Path) -> list:
    """The node-resize example needs node and its node_modules (`npm ci` there; CI runs it); the
    response-streaming example needs node."""
    if doc.parent.name == "node-resize":
        from sandbox.guide.example_setups.node_resize import missing
    elif doc.parent.name == "response-streaming":
        from sandbox.guide.example_setups.response_streaming import missing
    else:
        return []
    return [pytest.mark.skipif(bool(missing()), reason=str(missing()))]


def shell_docs(*folders: str) -> list:
    """pytest params, one per doc with a shell block, of the docs below ``folders`` (relative to the
    project; "" for the project's own top-level README)."""
    chosen = []
    for doc in DOCS:
        relative = doc.relative_to(PROJECT_ROOT)
        parent = relative.parent.as_posix()
        if not doc.exists() or not any(lang != "powershell" for lang, _ in blocks(doc)):
            continue
        if any(
            parent == f or (f and parent.startswith(f + "/")) or (f == "" and parent == ".") for f in folders
        ):
            chosen.append(pytest.param(doc, marks=_needs(doc), id=str(relative)))
    return chosen


class RunningSandboxes:
    """`run_local.py` (the guide's) and `run_local.py --example NAME` as a user starts them, each started the
    first time a test of the module needs it and shared by the module's tests."""

    def __init__(self):
        self._stack = ExitStack()
        self._started: dict[tuple[str, ...], tuple[dict, str]] = {}

    def _started_with(self, *args: str) -> tuple[dict, str]:
        if args not in self._started:
            self._started[args] = self._stack.enter_context(started_run_local(*args))
        return self._started[args]

    @property
    def env(self) -> dict:
        """The environment of a terminal where the guide's export lines were pasted."""
        return self._started_with()[0]

    def example(self, name: str) -> tuple[dict, str]:
        """(the terminal's environment, the banner) of `run_local.py --example NAME`."""
        env, banner = self._started_with("--example", name)
        assert f"example {name}" in banner, banner
        return env, banner

    def close(self) -> None:
        self._stack.close()


def run_doc(doc: Path, sandboxes: RunningSandboxes, tmp_path: Path) -> list[tuple[str, str]]:
    """Run every shell block of ``doc`` in a copy of the checkout in ``tmp_path``: the blocks that follow
    `make run ARGS="--example NAME"` against that example's sandbox, the others against the guide's.
    Returns (command, what it printed) for each command run."""
    workdir = checkout_copy(tmp_path)
    passed_over, outputs = [], []
    for example, lines in shell_blocks(doc):
        env = sandboxes.env if example is None else sandboxes.example(example)[0]
        skipped_here, printed = run_commands(lines, terminal(env, workdir), workdir)
        passed_over += skipped_here
        outputs += printed
    print(f"{doc.name}: not run:\n  " + "\n  ".join(passed_over))
    return outputs
