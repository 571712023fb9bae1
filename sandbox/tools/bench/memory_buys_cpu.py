"""Benchmark of the CPU share (sandbox/lambda_/cpu_share.py): does memory buy CPU here as it does on AWS?

A CPU-bound function runs through the real path at 128, 512, 1,769 and 3,008 MB; Duration relative to
1,769 MB is printed beside AWS's ratio for one thread (goal: within 15 %), with the share the worker
really had and the cost of holding it there (goal: under 2 % of a core). Then ``--full-cpu``, two
threads, and the sizes this machine's cores cannot give.

Run: ``python -m sandbox.tools.bench.memory_buys_cpu`` or ``run_local.py bench --only cpu``.
What it measures: docs/tools.md; the share itself: docs/cpu-share.md.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from sandbox.config import MEMORY_MB_PER_VCPU, FunctionConfiguration, SandboxConfig
from sandbox.lambda_ import cpu_share as share
from sandbox.lambda_.invocation import InvocationStatus

CPU_BOUND = Path(__file__).resolve().parent / "handlers" / "cpu_bound"
SIZES = (128, 512, 1769, 3008)
REFERENCE_MB = MEMORY_MB_PER_VCPU
GOAL_ERROR = 0.15
GOAL_OVERHEAD = 0.02
TARGET_CPU_MS = 150.0  # the work, at full speed: long against the 20 ms window, short enough at 128 MB (~2 s)


def calibrate_iterations(target_ms: float = TARGET_CPU_MS) -> int:
    """How many of the function's steps take ``target_ms`` of CPU on this machine."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cpu_bound_probe", CPU_BOUND / "lambda_function.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    n = 200_000
    while True:
        started = time.process_time()
        module._spin(n)
        spent = (time.process_time() - started) * 1000
        if spent > 30:
            return int(n * target_ms / spent)
        n *= 2


def _load() -> str:
    try:
        one, five, _ = os.getloadavg()
        return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"
    except (AttributeError, OSError):
        return f"{os.cpu_count()} cores"


def _interleaved(sb, sizes, event: dict, repeats: int, label: str) -> dict:
    """Warm runs at each size, taken in turn (one function per size, so each stays warm), so that what
    else the machine is doing meanwhile falls on every size alike. Durations come from REPORT."""
    names = {}
    for memory in sizes:
        names[memory] = f"cpu-bound-{label}-{memory}"
        sb.register_function(
            FunctionConfiguration(
                function_name=names[memory], code_dir=CPU_BOUND, memory_size=memory, timeout=120
            )
        )
        sb.invoke(event, function_name=names[memory])  # the cold start (INIT runs at full speed); not counted
    before = {m: _env_cpu(sb, names[m]) for m in sizes}
    records = {m: [] for m in sizes}
    for _ in range(repeats):
        for memory in sizes:
            record = sb.invoke(event, function_name=names[memory])
            if record.status != InvocationStatus.SUCCESS:
                raise RuntimeError(f"the CPU-bound function failed at {memory} MB: {record.error_message}")
            records[memory].append(record)
    rows = {}
    for memory in sizes:
        after = _env_cpu(sb, names[memory])
        held = {k: after.get(k, 0.0) - before[memory].get(k, 0.0) for k in ("wall_s", "cpu_s", "overhead_s")}
        wall = held["wall_s"] or float("nan")
        rows[memory] = {
            "duration_ms": statistics.median(r.duration_ms for r in records[memory]),
            "durations_ms": [r.duration_ms for r in records[memory]],
            "cpu_ms": statistics.median(r.result["cpu_ms"] for r in records[memory]),
            "measured_share": held["cpu_s"] / wall,
            "overhead": held["overhead_s"] / wall,
        }
    return rows


def _env_cpu(sb, function_name: str) -> dict:
    environments = sb.runtime(function_name).describe()
    return environments[0]["cpu"] if environments else {}


def calibrate_rounds(target_ms: float) -> int:
    """How many 1 MB SHA-256 rounds take ``target_ms`` of CPU here (one thread)."""
    import hashlib

    buffer = bytes(range(256)) * 4096
    started = time.process_time()
    for _ in range(50):
        hashlib.sha256(buffer).digest()
    per_round = (time.process_time() - started) * 1000 / 50
    return max(1, int(target_ms / per_round))


def run(print_fn=print, repeats: int = 7, sizes=SIZES) -> dict:
    from sandbox.core import Sandbox

    iterations = calibrate_iterations()
    single = {"iterations": iterations}
    figures: dict = {"iterations": iterations, "load": _load()}
    print_fn(
        f"  a CPU-bound function, one thread, {iterations:,} steps (~{TARGET_CPU_MS:.0f} ms of CPU at full "
        f"speed), median of {repeats} warm runs per size, sizes in turn; {figures['load']}"
    )
    with Sandbox(SandboxConfig(port=0, web_port=None)) as sb:
        figures["sizes"] = _interleaved(sb, sizes, single, repeats, "share")
        sb.set_full_cpu(True)
        figures["full_cpu"] = _interleaved(sb, (128, REFERENCE_MB), single, repeats, "full")
        sb.set_full_cpu(False)
        figures["threads"] = {}
        if share.host_cores() >= 2:  # two busy threads: 1 vCPU of credit at 1,769 MB, 1.7 at 3,008 MB
            threads = {"threads": 2, "rounds": calibrate_rounds(2 * TARGET_CPU_MS)}
            figures["threads"] = _interleaved(sb, (REFERENCE_MB, 3008), threads, repeats, "threads")
    figures["load_after"] = _load()
    _print(figures, print_fn)
    return figures


def _print(figures: dict, print_fn) -> None:
    sizes = figures["sizes"]
    reference = sizes.get(REFERENCE_MB)
    print_fn(
        f"  {'memory':>8} {'share':>7} {'had':>6} {'Duration p50':>13} {'best':>9} {'best vs 1,769':>14} "
        f"{'AWS (1 thread)':>15} {'error':>6} {'p50 vs 1,769':>13} {'error':>6} {'throttling CPU':>15}"
    )
    worst = worst_p50 = 0.0
    for memory, row in sizes.items():
        aws = share.aws_duration_ratio(memory)
        best = min(row["durations_ms"]) / min(reference["durations_ms"])
        median = row["duration_ms"] / reference["duration_ms"]
        error, error_p50 = best / aws - 1, median / aws - 1
        worst, worst_p50 = max(worst, abs(error)), max(worst_p50, abs(error_p50))
        print_fn(
            f"  {memory:>5} MB {min(1.0, share.vcpu_share(memory)):>7.1%} {row['measured_share']:>6.1%} "
            f"{row['duration_ms']:>10.0f} ms {min(row['durations_ms']):>6.0f} ms {best:>13.2f}x "
            f"{aws:>14.2f}x {error:>+6.0%} {median:>12.2f}x {error_p50:>+6.0%} {row['overhead']:>14.2%}"
        )
    overhead = max(row["overhead"] for row in sizes.values())
    figures["worst_error"], figures["worst_error_p50"], figures["worst_overhead"] = worst, worst_p50, overhead
    print_fn(
        f"  (after: {figures['load_after']}. 'had': the CPU the worker had while busy, CPU time / wall time; "
        f"below its share where other programs held the cores. 'best': the fastest run, the one they "
        f"disturbed least)"
    )
    print_fn(
        f"  worst error {worst:.0%} on the best runs, {worst_p50:.0%} on the medians (goal within "
        f"{GOAL_ERROR:.0%}: {'met' if worst <= GOAL_ERROR else 'NOT met'} on the best runs, "
        f"{'met' if worst_p50 <= GOAL_ERROR else 'NOT met'} on the medians); throttling costs at most "
        f"{overhead:.2%} of a core per busy environment (goal under {GOAL_OVERHEAD:.0%}: "
        f"{'met' if overhead < GOAL_OVERHEAD else 'NOT met'})"
    )
    full = figures["full_cpu"]
    if full:
        print_fn(
            f"  with --full-cpu: 128 MB {full[128]['duration_ms']:.0f} ms, 1,769 MB "
            f"{full[REFERENCE_MB]['duration_ms']:.0f} ms = "
            f"{full[128]['duration_ms'] / full[REFERENCE_MB]['duration_ms']:.2f}x (this machine's speed "
            "whatever the memory)"
        )
    threads = figures["threads"]
    if len(threads) == 2:
        ratio = threads[REFERENCE_MB]["duration_ms"] / threads[3008]["duration_ms"]
        aws = share.aws_duration_ratio(REFERENCE_MB, 3008, threads=2)
        print_fn(
            f"  two busy threads: 1,769 MB {threads[REFERENCE_MB]['duration_ms']:.0f} ms (had "
            f"{threads[REFERENCE_MB]['measured_share']:.2f} of 1.00 CPU), 3,008 MB "
            f"{threads[3008]['duration_ms']:.0f} ms (had {threads[3008]['measured_share']:.2f} of "
            f"{share.cpus_used(3008, 2):.2f}): 3,008 MB is {ratio:.2f}x faster (AWS {aws:.2f}x; below 1.70x "
            "when other programs hold this machine's cores)"
        )
    for memory in (4096, 10240):
        note = share.host_shortfall(memory)
        if note:
            print_fn(f"  not run: {note}")


def _main() -> None:
    print("CPU share: memory buys CPU, as on AWS")
    run()


if __name__ == "__main__":
    _main()
