"""``run_local.py bench``: measure and print. Nothing here asserts; the figures go in the closing notes.

The benchmarks: pipeline (start-to-ready, upload-to-resized), runtime (cold start, warm overhead, a burst
of uploads), cpu (memory_buys_cpu.py), image (image_step.py), api (api_gateway.py), schedules
(schedules.py), page (page.py) and state (state_dir.py).

Each benchmark's measurements and goals: docs/tools.md.
"""

from __future__ import annotations

import importlib
import inspect
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

from sandbox.config import (
    DESTINATION_BUCKET,
    OUTPUT_KEY_PREFIX,
    PROJECT_ROOT,
    SOURCE_BUCKET,
    FunctionConfiguration,
    SandboxConfig,
)
from sandbox.lambda_.invocation import InvocationStatus
from sandbox.tools.bench import MODULE_PARTS, PARTS

NOOP = Path(__file__).resolve().parent / "handlers" / "noop"
TEST_JPG = PROJECT_ROOT / "sample_images" / "test.jpg"
SOURCE = SOURCE_BUCKET


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


def bench_ready(repeats: int = 5) -> dict:
    """``run_local.py`` as a user starts it (no --state-dir) to its "ready" line, ``repeats`` times: the
    wall time, the CPU time the process had used by then (what a quiet machine's wall time comes to), the
    load average the runs shared the machine with, and how long it takes to exit after Ctrl-C."""
    times, cpu, stops = [], [], []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for _ in range(repeats):
        port, web = _free_port(), _free_port()
        started = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                str(PROJECT_ROOT / "run_local.py"),
                "--port",
                str(port),
                "--web-port",
                str(web),
                "--quiet",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=PROJECT_ROOT,
        )
        for line in proc.stdout:
            if "ready" in line:
                times.append(time.perf_counter() - started)
                cpu.append(_cpu_seconds(psutil.Process(proc.pid)))
                break
        stopping = time.perf_counter()
        proc.send_signal(signal.SIGINT if os.name == "posix" else signal.SIGTERM)  # Ctrl-C
        try:
            proc.communicate(timeout=60)  # its last lines read, so it never waits on a full pipe
            stops.append(time.perf_counter() - stopping)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    if hasattr(os, "getloadavg"):
        load = max(load, os.getloadavg()[0])
    measured = [c for c in cpu if c > 0]  # 0: not known
    return {
        "ready_s_median": statistics.median(times),
        "ready_s_min": min(times),
        "ready_s_all": times,
        "ready_cpu_s_median": statistics.median(measured) if measured else None,
        "ready_load": load,
        "stop_s_median": statistics.median(stops) if stops else None,
        "bytecode_cache": not sys.dont_write_bytecode,
    }


def _print_ready(figures: dict) -> None:
    each = ", ".join(f"{t:.2f}" for t in figures["ready_s_all"])
    _line(
        f"start-to-ready of run_local.py (median of {len(figures['ready_s_all'])})",
        f"{figures['ready_s_median']:.2f} s",
        f"goal <= 1 s on a quiet machine; runs {each} s at load average {figures['ready_load']:.1f}",
    )
    if figures["ready_cpu_s_median"] is not None:
        _line(
            "  CPU time used by then (median)",
            f"{figures['ready_cpu_s_median']:.2f} s",
            "about the wall time on a quiet machine",
        )
    if figures["stop_s_median"] is not None:
        _line("  exit after Ctrl-C (median)", f"{figures['stop_s_median']:.2f} s", "")
    _line(
        "  Python's bytecode cache",
        "written" if figures["bytecode_cache"] else "not written",
        "(`make` writes it)"
        if figures["bytecode_cache"]
        else "PYTHONDONTWRITEBYTECODE is set: modules without a .pyc are compiled at every start; "
        "`make bench` writes them",
    )


def _upload_and_wait(sb, key: str, body: bytes):
    started = time.perf_counter()
    sb.s3.put_object(Bucket=SOURCE, Key=key, Body=body)
    record = sb.wait_for_key(key, timeout=60)
    return (time.perf_counter() - started) * 1000, record


def bench_pipeline(uploads: int) -> dict:
    from sandbox.core import Sandbox

    body = TEST_JPG.read_bytes()
    with Sandbox(SandboxConfig(port=0, web_port=None)) as sb:
        cold_ms, cold = _upload_and_wait(sb, "bench/cold.jpg", body)
        warm, durations = [], []
        for i in range(uploads):
            ms, record = _upload_and_wait(sb, f"bench/warm-{i}.jpg", body)
            warm.append(ms)
            durations.append(record.duration_ms)
            if record.status != InvocationStatus.SUCCESS:
                print(f"  warning: warm upload {i} ended as {record.status}")
        overheads = [w - d for w, d in zip(warm, durations)]
    return {
        "cold_e2e_ms": cold_ms,
        "cold_duration_ms": cold.duration_ms,
        "cold_init_ms": cold.init_duration_ms,
        "warm_e2e_p50_ms": _pct(warm, 50),
        "warm_duration_p50_ms": _pct(durations, 50),
        "warm_overhead_p50_ms": _pct(overheads, 50),
        "warm_overhead_p90_ms": _pct(overheads, 90),
    }


def bench_floor(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import boto3, PIL.Image"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_runtime(invocations: int = 300) -> dict:
    from sandbox.core import Sandbox

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
    return {
        "cold_start_ms_median": statistics.median(colds),
        "init_duration_ms_median": statistics.median(inits),
        "warm_overhead_p50_ms": _pct(overhead, 50),
        "warm_overhead_p99_ms": _pct(overhead, 99),
    }


# The load generator. Uploads are presigned PUTs (as a browser uploads to S3), signed before the clock
# starts, so the client's own CPU stays small on the cores the sandbox is measured on: on AWS the
# client never shares Lambda's cores. (A boto3 put_object costs the client ~2-3 ms of CPU per image.)
_UPLOADER = """
import http.client, sys, threading, time, urllib.parse, boto3
endpoint, bucket, path, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
keys = sys.stdin.readline().split()
body = open(path, "rb").read()
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
urls = [urllib.parse.urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key},
                                                        ExpiresIn=3600)) for key in keys]
host = urllib.parse.urlsplit(endpoint)
print("ready", flush=True)
sys.stdin.readline()
cpu = time.process_time()
failed = []
def put(chunk):
    for url in chunk:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        conn.request("PUT", url.path + "?" + url.query, body=body, headers={"Content-Type": "image/jpeg"})
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status != 200:
            failed.append(f"{url.path}: HTTP {response.status}")
workers = [threading.Thread(target=put, args=(urls[i::threads],)) for i in range(threads)]
[w.start() for w in workers]
[w.join() for w in workers]
print("cpu", time.process_time() - cpu, flush=True)
sys.exit("uploads failed: " + ", ".join(failed[:3]) if failed else 0)
"""


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def _burst(sb, keys, path: Path, threads: int = 4) -> dict:
    """PUT every key at once from a separate client process (4 threads, as browsers would) and wait until
    every event has its final result.

    The clock starts at the first PUT: the client imports boto3 and signs its URLs before. Returns
    the seconds taken and the CPU seconds spent meanwhile by the sandbox's own process (the S3 endpoint and
    the Lambda service), by the execution environments that were already running, and by the client."""
    me = psutil.Process()
    uploader = subprocess.Popen(
        [sys.executable, "-c", _UPLOADER, sb.endpoint_url, SOURCE, str(path), str(threads)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        uploader.stdin.write(" ".join(keys) + "\n")
        uploader.stdin.flush()
        if uploader.stdout.readline().strip() != "ready":
            raise RuntimeError("the burst's uploader did not start")
        environments = [child for child in me.children(recursive=True) if child.pid != uploader.pid]
        before = [_cpu_seconds(p) for p in environments]
        sandbox_before = _cpu_seconds(me)
        started = time.perf_counter()
        uploader.stdin.write("go\n")
        uploader.stdin.close()
        report = uploader.stdout.readline().split()
        if uploader.wait(120) != 0 or report[:1] != ["cpu"]:
            raise RuntimeError("the burst's uploader failed (its error is above)")
        client_cpu = float(report[1])
    finally:
        if uploader.poll() is None:
            uploader.kill()
    for key in keys:
        sb.wait_for_key(key, timeout=120)
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "cpu_sandbox_s": _cpu_seconds(me) - sandbox_before,
        "cpu_environments_s": sum(_cpu_seconds(p) for p in environments) - sum(before),
        "cpu_client_s": client_cpu,
    }


def _burst_phase(sb, prefix: str, count: int) -> dict:
    keys = [f"{prefix}/{i:03d}.jpg" for i in range(count)]
    run = _burst(sb, keys, TEST_JPG)
    records = [sb.wait_for_key(key, timeout=1) for key in keys]
    ok = sum(1 for r in records if r is not None and r.status == InvocationStatus.SUCCESS)
    outputs = set()
    for page in sb.s3.get_paginator("list_objects_v2").paginate(
        Bucket=DESTINATION_BUCKET, Prefix=f"{OUTPUT_KEY_PREFIX}{prefix}/"
    ):
        outputs.update(o["Key"] for o in page.get("Contents", []))
    cold = [r.init_duration_ms for r in records if r is not None and r.cold_start]
    return {
        "images_per_s": ok / run["seconds"],
        "lost": sum(1 for k in keys if OUTPUT_KEY_PREFIX + k not in outputs),
        "environments": len({r.environment_id for r in records if r is not None}),
        "cold_starts": len(cold),
        "init_ms_median": statistics.median(cold or [0]),
        **{k: v / count * 1000 for k, v in run.items() if k.startswith("cpu_")},
    }


def _median_run(runs: list[dict]) -> dict:
    runs = sorted(runs, key=lambda run: run["images_per_s"])
    return {**runs[len(runs) // 2], "lost": sum(run["lost"] for run in runs), "runs": len(runs)}


# The burst measures the sandbox's machinery, so its environments may use the whole machine (--full-cpu).
BURST_CONFIG = {"port": 0, "web_port": None, "full_cpu": True}


def bench_burst(count: int = 200, repeats: int = 3) -> dict:
    """A burst of ``count`` uploads of test.jpg: images per second against one environment's rate
    times the cores (goal: >= 80 % of it).

    Runs from cold once (the function scales out from nothing; each new environment pays its INIT on the
    same cores), then warm ``repeats`` times (the median is reported: a shared 2-core VM varies by 10-20 %
    between runs). One environment's rate is read two ways: measured (the same warm burst through a
    function with reserved concurrency 1) and 1 / Duration (the handler alone, uploads one at a time).
    Also reported: the CPU each image costs and where it goes, which bounds what any number of
    environments can reach on these cores."""
    from sandbox.core import Sandbox

    body = TEST_JPG.read_bytes()
    figures: dict = {"count": count}
    with Sandbox(SandboxConfig(**BURST_CONFIG)) as sb:
        figures["cold"] = _burst_phase(sb, "burst-cold", count)
        figures["warm"] = _median_run([_burst_phase(sb, f"burst-warm{r}", count) for r in range(repeats)])
        single = [_upload_and_wait(sb, f"burst/single-{i}.jpg", body)[1].duration_ms for i in range(20)]
    with Sandbox(SandboxConfig(**BURST_CONFIG), FunctionConfiguration(reserved_concurrency=1)) as sb:
        _burst(sb, [f"one-warmup/{i}.jpg" for i in range(5)], TEST_JPG)
        figures["one_env"] = _median_run([_burst_phase(sb, f"one{r}", count) for r in range(repeats)])
    cores = os.cpu_count() or 1
    figures["cores"] = cores
    figures["one_env_rate"] = figures["one_env"]["images_per_s"]
    figures["duration_ms_median"] = statistics.median(single)
    figures["handler_ceiling"] = cores * 1000.0 / figures["duration_ms_median"]
    warm = figures["warm"]
    warm["cpu_per_image_ms"] = warm["cpu_sandbox_s"] + warm["cpu_environments_s"] + warm["cpu_client_s"]
    figures["cpu_ceiling"] = cores * 1000.0 / warm["cpu_per_image_ms"]
    figures["lost"] = figures["cold"]["lost"] + figures["warm"]["lost"] + figures["one_env"]["lost"]
    return figures


def print_burst(burst: dict) -> None:
    cores, count, warm, cold = burst["cores"], burst["count"], burst["warm"], burst["cold"]
    _line(
        f"burst of {count} test.jpg uploads, warm (median of {warm['runs']})",
        f"{warm['images_per_s']:.1f} /s",
        f"{warm['environments']} environments",
    )
    _line(
        "  the same from cold",
        f"{cold['images_per_s']:.1f} /s",
        f"{cold['cold_starts']} cold starts sharing the cores (Init ~{cold['init_ms_median']:.0f} ms each)",
    )
    _line("  events lost", f"{burst['lost']}", "goal 0")
    print(f"  against one environment's rate x {cores} cores (goal >= 80 %), two readings of 'rate':")
    measured = burst["one_env_rate"] * cores
    _line(
        f"    measured: the same burst through 1 environment x {cores}",
        f"{measured:.1f} /s",
        f"warm burst = {warm['images_per_s'] / measured * 100:.0f} %, from cold = "
        f"{cold['images_per_s'] / measured * 100:.0f} %",
    )
    _line(
        f"    1 / Duration ({burst['duration_ms_median']:.1f} ms) x {cores}",
        f"{burst['handler_ceiling']:.1f} /s",
        f"warm burst = {warm['images_per_s'] / burst['handler_ceiling'] * 100:.0f} %, from cold = "
        f"{cold['images_per_s'] / burst['handler_ceiling'] * 100:.0f} %",
    )
    _line(
        "  CPU per image in the warm burst",
        f"{warm['cpu_per_image_ms']:.1f} ms",
        f"environments {warm['cpu_environments_s']:.1f} + sandbox process (S3 endpoint, Lambda service) "
        f"{warm['cpu_sandbox_s']:.1f} + uploading client {warm['cpu_client_s']:.1f}",
    )
    _line(
        f"  ceiling: {cores} cores / CPU per image",
        f"{burst['cpu_ceiling']:.1f} /s",
        f"= {burst['cpu_ceiling'] / burst['handler_ceiling'] * 100:.0f} % of 1 / Duration x {cores}; "
        f"the warm burst uses {warm['images_per_s'] / burst['cpu_ceiling'] * 100:.0f} % of it",
    )


def run_all(only=None, uploads: int = 20) -> dict:
    parts = set(only or PARTS)
    figures: dict = {}
    print(f"Benchmarks on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if "ready" in parts:
        print("\nready: run_local.py started to its banner's last line")
        figures.update(bench_ready())
        _print_ready(figures)
    if "pipeline" in parts:
        print("\npipeline: upload to resized image, the whole path")
        figures.update(bench_pipeline(uploads))
        _line(
            "upload -> resized-test.jpg, cold",
            f"{figures['cold_e2e_ms']:.1f} ms",
            f"(Init {figures['cold_init_ms']:.0f} ms + Duration {figures['cold_duration_ms']:.1f} ms)",
        )
        _line(f"upload -> resized, warm p50 of {uploads}", f"{figures['warm_e2e_p50_ms']:.1f} ms")
        _line("handler Duration from REPORT, warm p50", f"{figures['warm_duration_p50_ms']:.1f} ms")
        _line(
            "warm end-to-end minus Duration, p50",
            f"{figures['warm_overhead_p50_ms']:.1f} ms",
            "goal <= 25 ms",
        )
    if "runtime" in parts:
        print("\nruntime: cold and warm starts, the warm overhead, bursts")
        floor = bench_floor()
        figures["floor_ms"] = floor
        figures.update(bench_runtime())
        _line('floor: python -c "import boto3, PIL.Image" (median)', f"{floor:.0f} ms")
        _line(
            "cold start of a no-op boto3+PIL function (median of 5)",
            f"{figures['cold_start_ms_median']:.0f} ms",
            f"= {figures['cold_start_ms_median'] / floor:.2f}x floor (goal <= 1.3x)",
        )
        _line(
            "warm invocation overhead, no-op, p50",
            f"{figures['warm_overhead_p50_ms']:.2f} ms",
            "goal <= 10 ms",
        )
        _line(
            "warm invocation overhead, no-op, p99",
            f"{figures['warm_overhead_p99_ms']:.2f} ms",
            "goal <= 30 ms",
        )
        burst = bench_burst()
        figures["burst"] = burst
        print_burst(burst)
    for part, module, heading in MODULE_PARTS:
        if part in parts:
            print(f"\n{heading}")
            run = importlib.import_module(f"{__package__}.{module}").run
            takes_uploads = "uploads" in inspect.signature(run).parameters
            figures[part] = run(uploads=uploads) if takes_uploads else run()
    if "image" in parts:
        try:
            from sandbox.tools.bench import image_step
        except ImportError:
            print("\nimage step benchmark not available")
        else:
            print("\nimage step: the handler's resize")
            figures["image"] = image_step.run()
    return figures
