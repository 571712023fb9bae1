"""Every command of the READMEs of the examples about queues, streams, SNS, EventBridge and schedules runs
as written (tests/helpers/doc_commands.py), each example's walkthrough against
`run_local.py --example NAME`."""

from __future__ import annotations

import pytest

from helpers.doc_commands import run_doc, shell_docs

DOCS_HERE = shell_docs(
    "examples/queue",
    "examples/stream",
    "examples/sns-fanout",
    "examples/eventbridge-patterns",
    "examples/schedule",
)


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS_HERE)
def test_every_shell_command_of_the_readme_runs_as_written(doc, guide_run_local, tmp_path):
    run_doc(doc, guide_run_local, tmp_path)
