"""With a state directory, InvokeWithResponseStream is not taken for a change to record: its answer goes out
as the function writes it, not once the invocation is over (sandbox/state/requests.py)."""

import json
import time

import pytest

from helpers.paths import PROJECT_ROOT
from helpers.runtimes import create_function, needs_node

pytestmark = pytest.mark.slow

STREAMING = """
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('first;');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  responseStream.end('last');
});
"""


@needs_node
def test_with_a_state_directory_the_chunks_still_arrive_as_written(tmp_path):
    from sandbox.config import FunctionConfiguration, SandboxConfig
    from sandbox.core import Sandbox

    config = SandboxConfig(port=0, web_port=None, state_dir=str(tmp_path / "state"))
    stateful = Sandbox(config, FunctionConfiguration(code_dir=PROJECT_ROOT / "handler")).start()
    try:
        create_function(stateful, "NodeStreamKept", "nodejs20.x", "index.handler", {"index.mjs": STREAMING})
        response = stateful.client("lambda").invoke_with_response_stream(
            FunctionName="NodeStreamKept", Payload=json.dumps({})
        )
        chunks = [
            (time.monotonic(), e["PayloadChunk"]["Payload"])
            for e in response["EventStream"]
            if "PayloadChunk" in e
        ]
        assert chunks[-1][0] - chunks[0][0] >= 1.0  # not held back until the function ended
    finally:
        stateful.stop()
