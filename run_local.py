#!/usr/bin/env python3
"""Start the local Lambda sandbox, or one of its tools: `python run_local.py --help`.

Run by a Python that lacks the sandbox's packages (the system's `python`, with `make run`'s .venv not
activated), it runs itself again with .venv's Python when .venv exists beside it, and otherwise says in
one sentence what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def venv_python() -> Path | None:
    """.venv's Python beside this file (`make run` makes it), if there is one and it is not this one."""
    venv = HERE / ".venv"
    for candidate in (venv / "bin" / "python", venv / "Scripts" / "python.exe"):
        if candidate.exists() and Path(sys.prefix).resolve() != venv.resolve():
            return candidate
    return None


def unusable_python(missing: str | None) -> int:
    """This Python is too old (``missing`` None) or lacks the module ``missing``: use .venv's Python, or
    say what to do."""
    python = venv_python()
    if python is not None and not os.environ.get("RUN_LOCAL_REEXEC"):
        os.environ["RUN_LOCAL_REEXEC"] = "1"  # once: a .venv that lacks them too gets the sentence below
        why = "lacks the sandbox's packages" if missing else "is older than 3.10"
        print(
            f"(run_local.py: {sys.executable} {why}; running it with {python})", file=sys.stderr, flush=True
        )
        if os.name == "nt":  # Windows has no exec: run it as a child and pass its exit code on
            return subprocess.call([str(python), str(HERE / "run_local.py"), *sys.argv[1:]])
        os.execv(str(python), [str(python), str(HERE / "run_local.py"), *sys.argv[1:]])
    if missing is None:
        print(
            f"run_local.py: the sandbox needs Python 3.10 or newer; {sys.executable} is "
            f"{sys.version.split()[0]}: run `make run PYTHON=python3.12` (or any 3.10+) once, then use "
            f"`.venv/bin/python run_local.py ...`.",
            file=sys.stderr,
        )
        return 2
    print(
        f"run_local.py: the sandbox's packages are not installed for {sys.executable} (no module named "
        f"{missing!r}): run `make run` once (or `python -m venv .venv` and `.venv/bin/python -m pip "
        f"install -e .`), then use `.venv/bin/python run_local.py ...` (on Windows "
        f"`.venv\\Scripts\\python.exe run_local.py ...`); docs/getting-started.md has the details.",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    # Kept although the project needs 3.10: an older Python runs this file only to print what to do.
    if sys.version_info < (3, 10):  # noqa: UP036
        sys.exit(unusable_python(None))
    import gc

    from sandbox.config import GC_THRESHOLDS  # the standard library only: before the sandbox's imports

    gc.set_threshold(*GC_THRESHOLDS)
    try:
        from sandbox.cli import main
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "sandbox":
            raise
        sys.exit(unusable_python(exc.name))
    status = main()
    # Python's last collection at exit walks every object the sandbox loaded (~0.5 s of CPU after Ctrl-C);
    # the process is ending and the sandbox has stopped, so they are frozen and the exit is immediate.
    gc.freeze()
    sys.exit(status)
