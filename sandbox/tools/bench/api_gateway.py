"""API Gateway's overhead (``run_local.py bench --only api``): a warm request -> response through an HTTP
API (payload 2.0, ``<api-id>.execute-api.localhost``) and a REST API (payload 1.0, ``/_aws/execute-api/``)
to a no-op function, minus the function's own Duration from its REPORT line (goal: p50 <= 5 ms,
p99 <= 20 ms). The requests come from a separate process, one connection each, as curl would send them;
the function has 1,769 MB (a whole vCPU, as on AWS), so the figures are the gateway's, not the CPU share's.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

from sandbox.config import SandboxConfig

NOOP = Path(__file__).resolve().parent / "handlers" / "api_noop" / "lambda_function.py"
FUNCTION = "bench-api-noop"
WARM_UP = 20

_CLIENT = """
import http.client, json, sys, time
port, path, host, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
times, statuses = [], set()
for _ in range(count):
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers={"Host": host})
    response = connection.getresponse()
    response.read()
    connection.close()
    times.append((time.perf_counter() - started) * 1000)
    statuses.add(response.status)
print(json.dumps({"ms": times, "statuses": sorted(statuses)}))
"""


def _pct(values, q):
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]
        if ordered
        else float("nan")
    )


def _requests(sb, path: str, host: str, count: int) -> dict:
    """Send ``count`` requests from another process; each one's wall time minus its invocation's Duration."""
    before = {r.request_id for r in sb.invocations()}
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT, str(sb.endpoint.port), path, host, str(count)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    answer = json.loads(done.stdout)
    sb.records.wait_idle(30)
    records = sorted(
        (r for r in sb.invocations() if r.request_id not in before and r.function_name == FUNCTION),
        key=lambda r: r.detected_at,
    )
    durations = [r.duration_ms for r in records]
    if len(durations) != count or answer["statuses"] != [200]:
        raise RuntimeError(
            f"expected {count} successful invocations, got {len(durations)} (HTTP {answer['statuses']})"
        )
    overheads = [wall - duration for wall, duration in zip(answer["ms"], durations)]
    return {
        "overhead_p50_ms": _pct(overheads, 50),
        "overhead_p99_ms": _pct(overheads, 99),
        "wall_p50_ms": _pct(answer["ms"], 50),
        "duration_p50_ms": statistics.median(durations),
    }


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(NOOP, "lambda_function.py")
    return buffer.getvalue()


def bench(requests: int = 300) -> dict:
    from sandbox.core import Sandbox

    with Sandbox(SandboxConfig(port=0, web_port=None)) as sb:
        arn = sb.client("lambda").create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role=sb.function.role_arn,
            MemorySize=1769,
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": _package()},
        )["FunctionArn"]
        http_api = sb.client("apigatewayv2").create_api(Name="bench", ProtocolType="HTTP", Target=arn)[
            "ApiId"
        ]
        apigw = sb.client("apigateway")
        rest_api = apigw.create_rest_api(name="bench")["id"]
        root = apigw.get_resources(restApiId=rest_api)["items"][0]["id"]
        proxy = apigw.create_resource(restApiId=rest_api, parentId=root, pathPart="{proxy+}")["id"]
        apigw.put_method(restApiId=rest_api, resourceId=proxy, httpMethod="ANY", authorizationType="NONE")
        apigw.put_integration(
            restApiId=rest_api,
            resourceId=proxy,
            httpMethod="ANY",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{sb.config.region}:lambda:path/2015-03-31/functions/{arn}/invocations",
        )
        apigw.create_deployment(restApiId=rest_api, stageName="prod")
        port = sb.endpoint.port
        http_form = ("/items/42", f"{http_api}.execute-api.localhost:{port}")
        rest_form = (f"/_aws/execute-api/{rest_api}/prod/items/42", f"127.0.0.1:{port}")
        _requests(sb, *http_form, WARM_UP)
        return {
            "http": _requests(sb, *http_form, requests),
            "rest": _requests(sb, *rest_form, requests),
            "requests": requests,
        }


def run(line=None) -> dict:
    from sandbox.tools.bench.runner import _line

    figures = bench()
    for kind, label in (("http", "HTTP API (payload 2.0)"), ("rest", "REST API (payload 1.0)")):
        found = figures[kind]
        _line(
            f"{label}: request -> response minus Duration, p50",
            f"{found['overhead_p50_ms']:.2f} ms",
            "goal <= 5 ms",
        )
        _line(f"{label}: the same, p99", f"{found['overhead_p99_ms']:.2f} ms", "goal <= 20 ms")
        _line(
            f"  (wall p50 {found['wall_p50_ms']:.2f} ms, Duration p50 {found['duration_p50_ms']:.2f} ms, "
            f"{figures['requests']} warm requests)",
            "",
        )
    return figures
