"""``run_local.py bench``: measure and print. Nothing here asserts; the figures go in the closing notes.

- pipeline: start-to-ready of run_local.py; upload-to-resized latency, cold and warm (p50 over N warm
  uploads), against the handler's own Duration from REPORT (goal: ready <= 2 s; warm overhead <= 25 ms);
- runtime: cold start against the floor `python -c "import boto3, PIL.Image"` (goal <= 1.3x); warm
  overhead of a no-op handler through the Runtime API (goals: p50 <= 10 ms, p99 <= 30 ms); a burst of 200
  uploads: images/s against one environment's rate x cores (goal >= 80 %), events lost (goal 0);
- image: the handler's image step against the guide-style baseline and the floor (sandbox/bench/image_step.py).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ..config import PROJECT_ROOT, FunctionConfiguration, SandboxConfig

NOOP = Path(__file__).resolve().parent / "handlers" / "noop"
TEST_JPG = PROJECT_ROOT / "sample_images" / "test.jpg"
SOURCE = "source-image-bucket123"


def _pct(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _line(label, value, goal=""):
    print(f"  {label:<58} {value:>14}  {goal}")


def bench_ready(repeats: int = 3) -> dict:
    times = []
    for _ in range(repeats):
        port, web = _free_port(), _free_port()
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "run_local.py"), "--port", str(port),
                                 "--web-port", str(web), "--quiet"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=PROJECT_ROOT)
        for line in proc.stdout:
            if "ready" in line:
                times.append(time.perf_counter() - started)
                break
        proc.terminate()
        proc.wait(20)
    return {"ready_s_median": statistics.median(times), "ready_s_min": min(times)}


def _upload_and_wait(sb, key: str, body: bytes):
    started = time.perf_counter()
    sb.s3.put_object(Bucket=SOURCE, Key=key, Body=body)
    record = sb.wait_for_key(key, timeout=60)
    return (time.perf_counter() - started) * 1000, record


def bench_pipeline(uploads: int) -> dict:
    from ..core import Sandbox

    body = TEST_JPG.read_bytes()
    with Sandbox(SandboxConfig(port=0, web_port=None)) as sb:
        cold_ms, cold = _upload_and_wait(sb, "bench/cold.jpg", body)
        warm, durations = [], []
        for i in range(uploads):
            ms, record = _upload_and_wait(sb, f"bench/warm-{i}.jpg", body)
            warm.append(ms)
            durations.append(record.duration_ms)
            if record.status != "success":
                print(f"  warning: warm upload {i} ended as {record.status}")
        overheads = [w - d for w, d in zip(warm, durations)]
    return {"cold_e2e_ms": cold_ms, "cold_duration_ms": cold.duration_ms, "cold_init_ms": cold.init_duration_ms,
            "warm_e2e_p50_ms": _pct(warm, 50), "warm_duration_p50_ms": _pct(durations, 50),
            "warm_overhead_p50_ms": _pct(overheads, 50), "warm_overhead_p90_ms": _pct(overheads, 90)}


def bench_floor(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import boto3, PIL.Image"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_runtime(invocations: int = 300) -> dict:
    from ..core import Sandbox

    function = FunctionConfiguration(code_dir=NOOP)
    with Sandbox(SandboxConfig(port=0, web_port=None), function) as sb:
        colds, inits = [], []
        for _ in range(5):
            sb.retire_environments()
            started = time.perf_counter()
            record = sb.invoke({})
            colds.append((time.perf_counter() - started) * 1000)
            inits.append(record.init_duration_ms)
        for _ in range(20):
            sb.invoke({})
        overhead = []
        for _ in range(invocations):
            started = time.perf_counter()
            sb.invoke({})
            overhead.append((time.perf_counter() - started) * 1000)
    return {"cold_start_ms_median": statistics.median(colds), "init_duration_ms_median": statistics.median(inits),
            "warm_overhead_p50_ms": _pct(overhead, 50), "warm_overhead_p99_ms": _pct(overhead, 99)}


_UPLOADER = """
import sys, threading, boto3
endpoint, bucket, path, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
keys = sys.stdin.read().split()
body = open(path, "rb").read()
def put(chunk):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    for key in chunk:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
workers = [threading.Thread(target=put, args=(keys[i::threads],)) for i in range(threads)]
[w.start() for w in workers]
[w.join() for w in workers]
"""


def _burst(sb, keys, path: Path, threads: int = 4) -> float:
    """PUT every key at once from a separate client process (as the AWS CLI or a browser would be);
    seconds until every event has its final result."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", _UPLOADER, sb.endpoint_url, SOURCE, str(path), str(threads)],
                   input="\n".join(keys), text=True, check=True)
    for key in keys:
        sb.wait_for_key(key, timeout=120)
    return time.perf_counter() - started


def bench_burst(count: int = 200) -> dict:
    """A burst of ``count`` uploads, twice: from a cold start (the function scales out from nothing, each
    new environment pays its INIT), then again once the environments are warm."""
    from ..core import Sandbox

    body = TEST_JPG.read_bytes()
    figures = {}
    with Sandbox(SandboxConfig(port=0, web_port=None)) as sb:
        for phase in ("cold", "warm"):
            keys = [f"burst-{phase}/{i:03d}.jpg" for i in range(count)]
            elapsed = _burst(sb, keys, TEST_JPG)
            records = [sb.wait_for_key(key, timeout=1) for key in keys]
            ok = sum(1 for r in records if r is not None and r.status == "success")
            outputs = set()
            for page in sb.s3.get_paginator("list_objects_v2").paginate(
                    Bucket="resized-image-bucket123", Prefix=f"resized-burst-{phase}/"):
                outputs.update(o["Key"] for o in page.get("Contents", []))
            figures[phase] = {"images_per_s": ok / elapsed, "lost": sum(1 for k in keys if "resized-" + k not in outputs),
                              "environments": len({r.environment_id for r in records if r is not None}),
                              "cold_starts": sum(1 for r in records if r is not None and r.cold_start)}
        # one environment's rate: sequential warm invocations (its handler Duration)
        single = [_upload_and_wait(sb, f"burst/single-{i}.jpg", body)[1].duration_ms for i in range(20)]
    # the same warm burst with one environment (reserved concurrency 1): one environment's throughput
    # when the sandbox's own S3 work is counted too
    with Sandbox(SandboxConfig(port=0, web_port=None), FunctionConfiguration(reserved_concurrency=1)) as sb:
        _burst(sb, [f"one-warmup/{i}.jpg" for i in range(5)], TEST_JPG)
        figures["one_env_burst_rate"] = count / _burst(sb, [f"one/{i:03d}.jpg" for i in range(count)], TEST_JPG)
    cores = os.cpu_count() or 1
    figures["one_env_rate"] = 1000.0 / statistics.median(single)
    figures["cores"] = cores
    for phase in ("cold", "warm"):
        figures[phase]["efficiency"] = figures[phase]["images_per_s"] / (figures["one_env_rate"] * cores)
    figures["lost"] = figures["cold"]["lost"] + figures["warm"]["lost"]
    return figures


def run_all(only=None, uploads: int = 20) -> dict:
    parts = set(only or ("pipeline", "runtime", "image"))
    figures: dict = {}
    print(f"Benchmarks on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if "pipeline" in parts:
        print("\npipeline (issue: the whole path)")
        figures.update(bench_ready())
        _line("start-to-ready of run_local.py (median of 3)", f"{figures['ready_s_median']:.2f} s", "goal <= 2 s")
        figures.update(bench_pipeline(uploads))
        _line("upload -> resized-test.jpg, cold", f"{figures['cold_e2e_ms']:.1f} ms",
              f"(Init {figures['cold_init_ms']:.0f} ms + Duration {figures['cold_duration_ms']:.1f} ms)")
        _line(f"upload -> resized, warm p50 of {uploads}", f"{figures['warm_e2e_p50_ms']:.1f} ms")
        _line("handler Duration from REPORT, warm p50", f"{figures['warm_duration_p50_ms']:.1f} ms")
        _line("warm end-to-end minus Duration, p50", f"{figures['warm_overhead_p50_ms']:.1f} ms", "goal <= 25 ms")
    if "runtime" in parts:
        print("\nruntime (issue: execution semantics)")
        floor = bench_floor()
        figures["floor_ms"] = floor
        figures.update(bench_runtime())
        _line('floor: python -c "import boto3, PIL.Image" (median)', f"{floor:.0f} ms")
        _line("cold start of a no-op boto3+PIL function (median of 5)", f"{figures['cold_start_ms_median']:.0f} ms",
              f"= {figures['cold_start_ms_median'] / floor:.2f}x floor (goal <= 1.3x)")
        _line("warm invocation overhead, no-op, p50", f"{figures['warm_overhead_p50_ms']:.2f} ms", "goal <= 10 ms")
        _line("warm invocation overhead, no-op, p99", f"{figures['warm_overhead_p99_ms']:.2f} ms", "goal <= 30 ms")
        burst = bench_burst()
        figures["burst"] = burst
        target = burst["one_env_rate"] * burst["cores"]
        _line(f"one environment's rate (1 / warm Duration) x {burst['cores']} cores", f"{target:.1f} /s")
        for phase, label in (("cold", "from cold (scaling out)"), ("warm", "environments warm")):
            b = burst[phase]
            _line(f"burst of 200 uploads, {label}", f"{b['images_per_s']:.1f} /s",
                  f"= {b['efficiency'] * 100:.0f} % (goal >= 80 %), {b['environments']} environments, "
                  f"{b['cold_starts']} cold starts")
        _line("the same warm burst with one environment", f"{burst['one_env_burst_rate']:.1f} /s",
              f"x {burst['cores']} cores = {burst['one_env_burst_rate'] * burst['cores']:.1f} /s; warm burst = "
              f"{burst['warm']['images_per_s'] / (burst['one_env_burst_rate'] * burst['cores']) * 100:.0f} % of it")
        _line("events lost", f"{burst['lost']}", "goal 0")
    if "image" in parts:
        try:
            from . import image_step
        except ImportError:
            print("\nimage step benchmark not available")
        else:
            print("\nimage step (issue: the handler)")
            figures["image"] = image_step.run()
    return figures
