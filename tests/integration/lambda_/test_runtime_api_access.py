"""The Runtime API answers only its own environment's runtime process: a web page (fetch metadata), the
sandbox's own process and any other local process are refused at once, take no event, and the next
invocation still runs warm in the same environment. Custom runtimes (Node's, that splits
AWS_LAMBDA_RUNTIME_API into host and port; a shell script whose curl makes the calls) keep working."""

import http.client
import json
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually
from sandbox.lambda_.runtime_api import PREFIX

NEXT = PREFIX + "/invocation/next"
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "faults", maximum_retry_attempts=0, timeout=10)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def warm(sb):
    """A warm environment: its first invocation, and the Runtime API address its runtime was given."""
    first = sb.invoke({"action": "context"})
    assert first.status == "success", first.result
    return first, first.result["env"]["AWS_LAMBDA_RUNTIME_API"]


def request(address, method, path, headers=None, body=None):
    """One request on a new connection; a request the server held would fail here with a timeout."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def assert_still_warm(sb, first):
    after = sb.invoke({"action": "ok"})
    assert after.status == "success", after.result
    assert after.cold_start is False and after.environment_id == first.environment_id
    assert after.duration_ms < 5000  # nothing was taken from it: no timeout was waited out


@pytest.mark.parametrize(
    "headers",
    [
        {"Referer": EVIL + "/page", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Mode": "no-cors"},
        {"Sec-Fetch-Dest": "empty"},
        {"Referer": EVIL + "/"},
        {"Origin": EVIL},
    ],
)
def test_requests_with_browser_fetch_metadata_are_refused_and_take_no_event(sb, warm, headers):
    first, address = warm
    status, body = request(address, "GET", NEXT, headers)
    assert status == 403 and b"AccessDenied" in body
    assert_still_warm(sb, first)


def test_a_process_that_is_not_the_runtime_is_refused_and_takes_no_event(sb, warm):
    """The test process (the sandbox's own) asks for the next event as a plain runtime client would,
    three times, once abandoning the request: all refused, none held."""
    first, address = warm
    for _ in range(2):
        status, body = request(address, "GET", NEXT)
        assert status == 403 and b"AccessDenied" in body
    host, port = address.rsplit(":", 1)
    abandoned = http.client.HTTPConnection(host, int(port), timeout=5)
    abandoned.request("GET", NEXT)
    abandoned.close()
    assert_still_warm(sb, first)


def test_idle_connections_from_other_processes_do_not_crowd_out_the_runtime(sb, warm):
    first, address = warm
    host, port = address.rsplit(":", 1)
    idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(40)]
    try:
        assert_still_warm(sb, first)
    finally:
        for sock in idle:
            sock.close()


ATTACKER = r"""
import http.client, json, sys
host, port = sys.argv[1].rsplit(":", 1)
results = []
for method, path, body in (("GET", sys.argv[2], None),
                           ("POST", sys.argv[3], b'{"forged": true}')):
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request(method, path, body=body)
    response = connection.getresponse()
    results.append([response.status, response.read().decode()])
    connection.close()
print(json.dumps(results))
"""


def test_another_local_process_can_neither_take_an_event_nor_forge_a_response(sb, warm):
    first, address = warm
    started = time.monotonic()
    # It asks for the next event, then posts a forged response for the invocation that runs meanwhile.
    invocation = {}

    def invoke():
        invocation["record"] = sb.invoke({"action": "sleep", "seconds": 1})

    runner = threading.Thread(target=invoke)
    runner.start()
    request_id = eventually(
        lambda: next(
            (r.request_id for r in sb.records.all() if r.event == {"action": "sleep", "seconds": 1}), None
        ),
        what="the invocation to start",
    )
    out = subprocess.run(
        [sys.executable, "-c", ATTACKER, address, NEXT, f"{PREFIX}/invocation/{request_id}/response"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    runner.join(30)
    results = json.loads(out.stdout)
    assert [status for status, _ in results] == [403, 403], results
    record = invocation["record"]
    assert record.status == "success" and record.result == {"slept": True}  # not the forged payload
    assert record.cold_start is False and record.environment_id == first.environment_id
    print(
        f"attacker refused twice; the invocation answered its own result in "
        f"{time.monotonic() - started:.2f} s"
    )
    assert_still_warm(sb, first)


NODE_RUNTIME = r"""
// A custom runtime as Node's does it: AWS_LAMBDA_RUNTIME_API split into hostname and port.
const http = require("http");
const [hostname, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({hostname, port, method, path: "/2018-06-01/runtime" + path}, (res) => {
      let data = ""; res.on("data", (c) => data += c);
      res.on("end", () => resolve({headers: res.headers, body: data}));
    });
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}
(async () => {
  for (;;) {
    const next = await call("GET", "/invocation/next");
    const id = next.headers["lambda-runtime-aws-request-id"];
    const event = JSON.parse(next.body);
    await call("POST", `/invocation/${id}/response`, JSON.stringify({echo: event, runtime: "node"}));
  }
})();
"""


SHELL_RUNTIME = r"""#!/bin/bash
# AWS's custom runtime tutorial: bash, with curl (a child process) speaking the Runtime API.
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$ID/response" \
    -d "{\"echo\": $EVENT, \"runtime\": \"bash\"}"
done
"""


@pytest.mark.parametrize(
    "runtime, script, name", [("node", NODE_RUNTIME, "bootstrap.js"), ("bash", SHELL_RUNTIME, "bootstrap")]
)
def test_custom_runtimes_using_the_address_as_aws_documents_it_are_served(tmp_path, runtime, script, name):
    """Node splits AWS_LAMBDA_RUNTIME_API into host and port; the shell runtime's requests come from
    curl, a process the runtime started."""
    from sandbox.config import FunctionConfiguration
    from sandbox.lambda_.execution_environment import EnvironmentSettings, ExecutionEnvironment
    from sandbox.lambda_.invocation import InvocationRecord

    if shutil.which(runtime) is None or shutil.which("curl") is None:
        pytest.skip(f"{runtime} or curl is not installed")

    class Logs:
        def put(self, *args, **kwargs):
            pass

    (tmp_path / name).write_text(script)
    function = FunctionConfiguration(code_dir=tmp_path, timeout=10)
    settings = EnvironmentSettings(
        endpoint_url="http://127.0.0.1:9", bootstrap_command=(runtime, str(tmp_path / name))
    )
    environment = ExecutionEnvironment(function, Logs(), settings)
    try:
        for n in range(2):
            record = InvocationRecord(request_id=f"req-{n}", function_name=function.function_name, event={})
            environment.invoke(record, json.dumps({"n": n}).encode())
            assert record.status == "success", record.result
            assert record.result == {"echo": {"n": n}, "runtime": runtime}
    finally:
        environment.stop()
