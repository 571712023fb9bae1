"""The notebooks: stored without outputs, and executed headless top to bottom with nbclient.

The kernel is this interpreter (a kernelspec written to a temporary folder points at sys.executable),
started in notebooks/ as Jupyter would start it. The executed copies are written to
test-output/notebooks/ so a failure can be opened and read.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from helpers.paths import PROJECT_ROOT

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
EXPECTED = ["guide_walkthrough.ipynb", "resize_experiments.ipynb"]
ALL_NOTEBOOKS = sorted(set(EXPECTED) | {p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")})
KERNEL_NAME = "lambda-sandbox-tests"
CELL_TIMEOUT_S = 240


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name):
    notebook = json.loads((NOTEBOOKS_DIR / name).read_text(encoding="utf-8"))
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code_cells, f"{name} has no code cells"
    with_outputs = [i for i, cell in enumerate(code_cells) if cell.get("outputs")]
    with_counts = [i for i, cell in enumerate(code_cells) if cell.get("execution_count") is not None]
    assert not with_outputs, f"{name}: code cells {with_outputs} were committed with outputs; clear them"
    assert not with_counts, f"{name}: code cells {with_counts} were committed with execution counts; clear them"


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_notebook_is_valid_nbformat_4(name):
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4


@pytest.fixture(scope="module")
def kernel_dirs(tmp_path_factory) -> list[str]:
    """A kernelspec for exactly this interpreter, so the notebooks never run on another Python."""
    pytest.importorskip("ipykernel")
    folder = tmp_path_factory.mktemp("kernels")
    spec = folder / KERNEL_NAME
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (lambda-sandbox tests)",
        "language": "python",
    }))
    return [str(folder)]


def execute(notebook, kernel_dirs: list[str], save_as: str | None = None):
    """Run every cell in a fresh kernel started in notebooks/; raises CellExecutionError on a cell error."""
    pytest.importorskip("nbclient")
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    specs = KernelSpecManager(kernel_dirs=kernel_dirs, ensure_native_kernel=False)
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    client = NotebookClient(notebook, km=manager, timeout=CELL_TIMEOUT_S,
                            resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    try:
        client.execute()
    finally:
        if save_as:
            out = PROJECT_ROOT / "test-output" / "notebooks"
            out.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, out / save_as)
    return notebook


def stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_kernel_is_this_interpreter_started_in_notebooks_folder(kernel_dirs):
    pytest.importorskip("nbformat")
    from nbformat.v4 import new_code_cell, new_notebook

    notebook = new_notebook(cells=[new_code_cell("import os, sys\nprint(sys.executable)\nprint(os.getcwd())")])
    execute(notebook, kernel_dirs)
    executable, cwd = stream_text(notebook.cells[0]).splitlines()
    assert os.path.realpath(executable) == os.path.realpath(sys.executable)
    assert Path(cwd).resolve() == NOTEBOOKS_DIR.resolve()


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_top_to_bottom_without_errors(name, kernel_dirs):
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    execute(notebook, kernel_dirs, save_as=name)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code_cells), "some cells did not run"
    errors = [o for cell in code_cells for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
