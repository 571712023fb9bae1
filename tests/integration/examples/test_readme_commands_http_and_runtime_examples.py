"""Every command of the READMEs of the examples about API Gateway, function URLs, versions, response
streaming and the Node.js runtime runs as written (tests/helpers/doc_commands.py), each example's walkthrough
against `run_local.py --example NAME`."""

from __future__ import annotations

import pytest

from helpers.doc_commands import LazyGuide, run_doc, shell_docs

DOCS_HERE = shell_docs(
    "examples/api",
    "examples/function-url",
    "examples/versions",
    "examples/response-streaming",
    "examples/node-resize",
)


@pytest.fixture(scope="module")
def guide():
    guide = LazyGuide()
    yield guide
    guide.close()


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS_HERE)
def test_every_shell_command_of_the_readme_runs_as_written(doc, guide, tmp_path):
    run_doc(doc, guide, tmp_path)
