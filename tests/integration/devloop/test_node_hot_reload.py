"""Hot reload of a Node.js function: saving a .js, .mjs, .cjs or .json file of its code folder makes the next
invocation a cold start with the new code, as for a Python function (sandbox/devloop/hot_reload.py)."""

import json
import time

import pytest

from helpers.runtimes import needs_node
from helpers.sandboxes import start_sandbox

pytestmark = pytest.mark.slow

FILES = {
    "index.js": "const settings = require('./settings.json');\n"
    "const { word } = require('./lib/word.cjs');\n"
    "exports.handler = async () => ({ version: 1, colour: settings.colour, word: word(), "
    "shout: (await import('./lib/shout.mjs')).shout('a') });\n",
    "settings.json": '{"colour": "red"}',
    "lib/word.cjs": "exports.word = () => 'one';\n",
    "lib/shout.mjs": "export const shout = (s) => s + '!';\n",
}


def _invoke(sb) -> dict:
    response = sb.client("lambda").invoke(FunctionName=sb.function.function_name, Payload=b"{}")
    return json.loads(response["Payload"].read())


def _next_answer_with(sb, expected: dict, timeout: float = 20.0) -> dict:
    """Invoke until the answer has ``expected`` (the watcher debounces a save for 0.2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = _invoke(sb)
        if all(answer.get(k) == v for k, v in expected.items()) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


@needs_node
def test_saving_js_mjs_cjs_and_json_files_takes_effect_on_the_next_invocation(tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    sb = start_sandbox(code_dir=tmp_path, runtime="nodejs20.x", handler="index.handler")
    try:
        assert _invoke(sb) == {"version": 1, "colour": "red", "word": "one", "shout": "a!"}
        edits = [
            ("index.js", FILES["index.js"].replace("version: 1", "version: 2"), {"version": 2}),
            ("settings.json", '{"colour": "blue"}', {"colour": "blue"}),
            ("lib/word.cjs", "exports.word = () => 'two';\n", {"word": "two"}),
            ("lib/shout.mjs", "export const shout = (s) => s + '?';\n", {"shout": "a?"}),
        ]
        for name, text, expected in edits:
            (tmp_path / name).write_text(text)
            answer = _next_answer_with(sb, expected)
            assert all(answer[k] == v for k, v in expected.items()), (name, answer)
        records = [r for r in sb.records.all() if r.function_name == sb.function.function_name]
        assert sum(1 for r in records if r.cold_start) >= 1 + len(edits)  # each edit: a new environment
    finally:
        sb.stop()
