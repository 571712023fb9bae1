"""The architecture's contracts (pyproject.toml, [tool.importlinter]) hold: handler/ imports nothing of the
project, only the endpoint module imports moto, the runtime layer knows no event source, event sources
don't import each other, and the page uses the sandbox only through sandbox.interface. And
docs/architecture.md describes the tree as it is: every package of sandbox/, and no package that is gone."""

from __future__ import annotations

import ast
import re
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


def code_lines(source: str) -> int:
    """Lines that hold code: not blank, not only a comment, not part of a docstring (the formatter's
    one-argument-per-line calls count as they stand)."""
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(
        1
        for number, line in enumerate(source.splitlines(), 1)
        if line.strip() and not line.strip().startswith("#") and number not in docstrings
    )


def test_sandbox_composition_root_stays_small():
    lines = code_lines((PROJECT_ROOT / "sandbox" / "core.py").read_text())
    assert lines < 300, f"sandbox/core.py has {lines} lines of code: move the new job into its own module"


def test_code_lines_leave_out_blank_lines_comments_and_docstrings():
    assert (
        code_lines('"""Doc\n\nstring."""\n\n# a comment\nx = 1\n\n\ndef f():\n    """Doc."""\n    return x\n')
        == 3
    )


ARCHITECTURE_DOC = PROJECT_ROOT / "docs" / "architecture.md"
# Folders under sandbox/ that hold data, not the sandbox's code: the functions the benchmarks deploy.
DATA_FOLDERS = ("sandbox/tools/bench/handlers",)


def sandbox_packages() -> list[str]:
    """Every package under sandbox/ (a folder with __init__.py), as ``sandbox/a/b``."""
    found = []
    for init in sorted((PROJECT_ROOT / "sandbox").rglob("__init__.py")):
        package = init.parent.relative_to(PROJECT_ROOT).as_posix()
        if package != "sandbox" and not package.startswith(DATA_FOLDERS):
            found.append(package)
    return found


def named_in(doc: str, package: str) -> bool:
    """Named by its path (`sandbox/a/b/`), or by its own name (`b/`) on a line that names its parent."""
    if f"{package}/" in doc:
        return True
    parent, name = package.rsplit("/", 1)
    return any(f"`{name}/`" in line and f"`{parent}/`" in line for line in doc.splitlines())


def test_every_sandbox_package_is_named_in_the_architecture_doc():
    doc = ARCHITECTURE_DOC.read_text()
    packages = sandbox_packages()
    assert "sandbox/lambda_" in packages and "sandbox/event_sources/s3" in packages  # the walk finds them
    unnamed = [package for package in packages if not named_in(doc, package)]
    assert not unnamed, f"docs/architecture.md does not name these packages ('Where things live'): {unnamed}"


def test_every_sandbox_path_the_architecture_doc_names_exists():
    doc = ARCHITECTURE_DOC.read_text()
    packages = set(re.findall(r"\bsandbox/(?:\w+/)+", doc))
    modules = set(re.findall(r"\bsandbox/(?:\w+/)*\w+\.py\b", doc))
    assert packages and modules
    gone = sorted(p for p in packages if not (PROJECT_ROOT / p / "__init__.py").is_file())
    gone += sorted(m for m in modules if not (PROJECT_ROOT / m).is_file())
    assert not gone, f"docs/architecture.md names what is not in the tree: {gone}"
