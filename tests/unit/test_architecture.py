"""The architecture's contracts (pyproject.toml, [tool.importlinter]) hold: handler/ imports nothing of the
project, only the endpoint module imports moto, the runtime layer knows no event source, event sources
don't import each other, and the page uses the sandbox only through sandbox.interface."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers.paths import PROJECT_ROOT


def lint_imports() -> list[str]:
    found = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    return [found, "--no-cache"]


def test_import_contracts_are_kept():
    result = subprocess.run(lint_imports(), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_sandbox_composition_root_stays_small():
    lines = (PROJECT_ROOT / "sandbox" / "core.py").read_text().count("\n")
    assert lines < 300, f"sandbox/core.py has {lines} lines: move the new job into its own module"
