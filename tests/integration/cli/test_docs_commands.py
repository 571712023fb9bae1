"""Every command in the README and docs/ works as a newcomer types it (tests/helpers/doc_commands.py runs
them; the examples' READMEs are run by tests/integration/examples/test_{event,http_and_runtime}_examples.py).
Each ```powershell block is parsed with tree-sitter's PowerShell grammar (no PowerShell here to run it)."""

from __future__ import annotations

import pytest

from helpers.doc_commands import DOCS, blocks, run_doc, shell_docs, skipped
from helpers.paths import PROJECT_ROOT


@pytest.mark.slow
@pytest.mark.parametrize("doc", shell_docs("", "docs", "notebooks", "sample_images", "examples/guide"))
def test_every_shell_command_in_the_docs_runs_as_written(doc, run_locals, tmp_path):
    run_doc(doc, run_locals, tmp_path)


def test_the_docs_and_the_examples_readmes_are_each_run_by_one_test():
    from integration.examples import test_event_examples as events
    from integration.examples import test_http_and_runtime_examples as http

    here = shell_docs("", "docs", "notebooks", "sample_images", "examples/guide")
    ids = [p.id for p in here] + [p.id for p in events.DOCS_HERE] + [p.id for p in http.DOCS_HERE]
    assert sorted(ids) == sorted(
        p.id for p in shell_docs("", "docs", "notebooks", "sample_images", "examples")
    )
    assert len(ids) == len(set(ids))


def test_the_skip_list_passes_over_only_what_a_test_cannot_run():
    assert skipped("make run ARGS=--fresh") and skipped("python run_local.py") and skipped("aws configure")
    assert skipped('curl "http://<api-id>.execute-api.localhost:4566/"')
    assert skipped("python run_local.py --template path/to/template.yaml --parameter-overrides A=b")
    for runnable in (
        "python run_local.py upload sample_images/",
        "python run_local.py tune --upload x.jpg",
        "aws s3 ls s3://resized-image-bucket123/",
        "python run_local.py triggers",
        ".venv/bin/python run_local.py --help",
        "python run_local.py fire-rule bucket-report",
    ):
        assert skipped(runnable) is None, runnable


def _powershell_parser():
    tree_sitter = pytest.importorskip("tree_sitter")
    grammar = pytest.importorskip("tree_sitter_powershell")
    return tree_sitter.Parser(tree_sitter.Language(grammar.language()))


def _errors(node) -> list[str]:
    if node.type == "ERROR" or node.is_missing:
        return [f"line {node.start_point[0] + 1}: {node.text.decode(errors='replace')[:80]!r}"]
    return [error for child in node.children for error in _errors(child)]


POWERSHELL_DOCS = [d for d in DOCS if d.exists() and blocks(d, "powershell")]


@pytest.mark.parametrize("doc", POWERSHELL_DOCS, ids=lambda d: str(d.relative_to(PROJECT_ROOT)))
def test_every_powershell_block_parses_as_powershell(doc):
    parser = _powershell_parser()
    for _, text in blocks(doc, "powershell"):
        tree = parser.parse(text.encode())
        assert not tree.root_node.has_error, f"{doc.name}:\n{text}\n" + "\n".join(_errors(tree.root_node))


def test_the_powershell_grammar_finds_the_mistakes_a_windows_user_would_make():
    parser = _powershell_parser()
    assert not parser.parse(b'$env:AWS_ENDPOINT_URL = "http://127.0.0.1:4566"\n').root_node.has_error
    assert parser.parse(b'$env:AWS_ENDPOINT_URL = "http://127.0.0.1:4566\n').root_node.has_error  # unclosed
    assert parser.parse(b"if ($x { }\n").root_node.has_error
