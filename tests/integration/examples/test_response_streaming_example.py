"""examples/response-streaming on a machine without node: the example is left out with one sentence (its
function URL read as the bytes arrive: test_http_and_runtime_examples.py)."""

from __future__ import annotations

import pytest


def test_without_node_all_the_examples_note_the_streaming_one_in_one_sentence(monkeypatch):
    from sandbox.guide import example_setups
    from sandbox.guide.example_setups import response_streaming

    monkeypatch.setattr(response_streaming, "node_binary", lambda: None)
    monkeypatch.setattr(example_setups, "_MODULES", ("response_streaming",))
    lines = example_setups.set_up(object(), ["all"])
    assert lines[1].startswith(
        "  not set up: the response-streaming example needs Node.js: no `node` on PATH"
    )
    with pytest.raises(response_streaming.ExampleUnavailable):
        example_setups.set_up(object(), ["response-streaming"])
