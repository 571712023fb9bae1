"""Power tuning, locally: run a function at several memory sizes and weigh its time against its cost.

As AWS Lambda Power Tuning does, through the real path: ``UpdateFunctionConfiguration`` sets each memory
size, one invocation absorbs the cold start, then synchronous ``Invoke`` calls with ``LogType: Tail`` give
the REPORT lines. The choices (cheapest, fastest, balanced) follow Power Tuning's analyzer, on each
size's median. The function's memory size is put back afterwards.

How it compares with Power Tuning: docs/tools.md.
"""

from __future__ import annotations

import base64
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
from botocore.config import Config as BotoConfig

from sandbox.config import DEFAULT_REGION, LOCAL_CREDENTIALS, MAX_MEMORY_MB, MIN_MEMORY_MB
from sandbox.errors import ConfigError
from sandbox.lambda_.cpu_share import host_shortfall, vcpu_share
from sandbox.lambda_.invocation import InvocationStatus
from sandbox.telemetry.pricing import invocation_cost

DEFAULT_MEMORY_SIZES = (128, 256, 512, 1024, 1536, 3008)  # Power Tuning's default power values
DEFAULT_RUNS = 5  # Power Tuning's smallest "num"
BALANCED_WEIGHT = 0.5  # Power Tuning's default balancedWeight: 0 = fastest, 1 = cheapest
STOP_AFTER_FAILURES = 2  # consecutive timeouts or crashes after which a size's remaining runs are skipped
STABLE_WITHIN = 0.05  # with max_rounds > 1: a size is measured again until its p50 moves less than this


@dataclass
class Run:
    """One invocation, as its REPORT line tells it."""

    status: str  # success, error, timeout
    duration_ms: float
    billed_ms: int
    max_memory_mb: int
    init_ms: float | None = None
    error_type: str | None = None


@dataclass
class SizeResult:
    """Every run at one memory size."""

    memory_mb: int
    architecture: str = "x86_64"
    cold: Run | None = None  # the first invocation after the change: a cold start, not counted
    runs: list[Run] = field(default_factory=list)
    skipped: int = 0  # runs not made after STOP_AFTER_FAILURES failures in a row
    rounds: int = 1  # rounds of warm runs made (tune's max_rounds)
    last_move: float | None = None  # how far the p50 moved in the last round (0.03: 3 %); None: one round

    @property
    def succeeded(self) -> bool:
        return (
            bool(self.runs)
            and all(r.status == InvocationStatus.SUCCESS for r in self.runs)
            and not self.skipped
        )

    @property
    def failures(self) -> list[Run]:
        return [r for r in self.runs if r.status != InvocationStatus.SUCCESS]

    @property
    def duration_p50_ms(self) -> float:
        return statistics.median(r.duration_ms for r in self.runs)

    @property
    def duration_p90_ms(self) -> float:
        ordered = sorted(r.duration_ms for r in self.runs)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]

    @property
    def billed_p50_ms(self) -> float:
        return statistics.median(r.billed_ms for r in self.runs)

    @property
    def cost_usd(self) -> float:
        """Per invocation (request + compute), the median of the runs' costs."""
        return statistics.median(
            invocation_cost(r.billed_ms, self.memory_mb, self.architecture) for r in self.runs
        )

    @property
    def max_memory_mb(self) -> int:
        return max(r.max_memory_mb for r in self.runs)


@dataclass
class TuningResult:
    function_name: str
    event_summary: str
    runs: int
    full_cpu: bool
    sizes: list[SizeResult]

    @property
    def candidates(self) -> list[SizeResult]:
        return [s for s in self.sizes if s.succeeded]

    @property
    def cheapest(self) -> SizeResult | None:
        return min(self.candidates, key=lambda s: (s.cost_usd, s.duration_p50_ms), default=None)

    @property
    def fastest(self) -> SizeResult | None:
        return min(self.candidates, key=lambda s: (s.duration_p50_ms, s.cost_usd), default=None)

    @property
    def balanced(self) -> SizeResult | None:
        sizes = self.candidates
        if not sizes:
            return None
        most_cost = max(s.cost_usd for s in sizes)
        most_time = max(s.duration_p50_ms for s in sizes)
        return min(
            sizes,
            key=lambda s: (
                BALANCED_WEIGHT * s.cost_usd / most_cost
                + (1 - BALANCED_WEIGHT) * s.duration_p50_ms / most_time
            ),
        )

    def as_rows(self) -> list[dict]:
        """One dict per memory size (for tables, DataFrames, JSON)."""
        rows = []
        for size in self.sizes:
            row = {
                "memory_mb": size.memory_mb,
                "vcpu_share": None if self.full_cpu else vcpu_share(size.memory_mb),
                "runs": len(size.runs),
                "rounds": size.rounds,
                "failures": len(size.failures) + size.skipped,
                "statuses": sorted({r.status for r in size.runs}),
                "init_ms": size.cold.init_ms if size.cold else None,
            }
            if size.runs:
                row.update(
                    duration_p50_ms=size.duration_p50_ms,
                    duration_p90_ms=size.duration_p90_ms,
                    billed_p50_ms=size.billed_p50_ms,
                    cost_usd=size.cost_usd,
                    cost_per_million_usd=size.cost_usd * 1_000_000,
                    max_memory_mb=size.max_memory_mb,
                )
            rows.append(row)
        return rows

    def report(self) -> str:
        """The table and the three choices, as text."""
        cpu = (
            "FULL CPU (--full-cpu): this machine's speed, not AWS's"
            if self.full_cpu
            else "each size held to its share of a CPU, as on AWS"
        )
        per = "per size and round" if any(s.rounds > 1 for s in self.sizes) else "per size"
        lines = [
            f"Power tuning {self.function_name} with {self.event_summary}: {self.runs} warm runs {per} "
            f"after a cold start; {cpu}.",
            "",
            f"{'memory':>8} {'vCPU':>6} {'Duration p50':>13} {'p90':>10} {'billed p50':>11} "
            f"{'$ / invocation':>15} {'$ / million':>12} {'max mem':>8} {'cold Init':>10}  result",
        ]
        for size, row in zip(self.sizes, self.as_rows()):
            share = "full" if row["vcpu_share"] is None else f"{row['vcpu_share']:.1%}"
            init = f"{row['init_ms']:.0f} ms" if row["init_ms"] is not None else "-"
            if not size.runs:
                lines.append(
                    f"{size.memory_mb:>5} MB {share:>6} {'-':>13} {'-':>10} {'-':>11} {'-':>15} {'-':>12} "
                    f"{'-':>8} {init:>10}  no run"
                )
                continue
            outcome = "ok" if size.succeeded else _failure_text(size)
            lines.append(
                f"{size.memory_mb:>5} MB {share:>6} {row['duration_p50_ms']:>10.1f} ms "
                f"{row['duration_p90_ms']:>7.1f} ms {row['billed_p50_ms']:>8.0f} ms "
                f"{row['cost_usd']:>15.10f} {row['cost_per_million_usd']:>12.2f} "
                f"{row['max_memory_mb']:>5} MB {init:>10}  {outcome}"
            )
        lines.append("")
        for label, size in (
            ("cheapest", self.cheapest),
            ("fastest", self.fastest),
            (f"balanced (weight {BALANCED_WEIGHT})", self.balanced),
        ):
            lines.append(
                f"{label + ':':<24} "
                + (
                    f"{size.memory_mb} MB  (Duration p50 {size.duration_p50_ms:.1f} ms, "
                    f"${size.cost_usd * 1_000_000:.2f} per million)"
                    if size
                    else "none: no size succeeded in every run"
                )
            )
        notes = (
            []
            if self.full_cpu
            else sorted({n for n in (host_shortfall(s.memory_mb) for s in self.sizes) if n})
        )
        lines += [f"note: {n}." for n in notes]
        stability = self.stability_note()
        if stability:
            lines.append(stability)
        return "\n".join(lines)

    def stability_note(self) -> str | None:
        """How steady the figures were: each size was measured again until its p50 moved less than
        STABLE_WITHIN, or how far the unsteady ones still moved (a busy machine: run again)."""
        measured = [s for s in self.sizes if s.last_move is not None]
        if not measured:
            return None
        unsteady = [s for s in measured if s.last_move >= STABLE_WITHIN]
        if not unsteady:
            return (
                f"steady: each size's Duration p50 moved less than {STABLE_WITHIN:.0%} in its last round "
                f"(rounds: {', '.join(f'{s.memory_mb} MB {s.rounds}' for s in measured)})."
            )
        moved = ", ".join(f"{s.memory_mb} MB's p50 still moved {s.last_move:.0%}" for s in unsteady)
        return (
            f"NOISY: {moved}"
            + f" after {max(s.rounds for s in unsteady)} rounds: other work on this machine disturbs the "
            f"timing; sizes that close may swap places in another run (run again, or more --runs)."
        )

    def chart(self, axis=None):
        """Power Tuning's chart: Duration (p50, with p90) and cost per million against memory. Needs
        matplotlib; returns the figure."""
        import matplotlib.pyplot as plt

        if axis is None:
            _, axis = plt.subplots(figsize=(8, 4))
        sizes = [s for s in self.sizes if s.runs]
        x = list(range(len(sizes)))
        axis.plot(x, [s.duration_p50_ms for s in sizes], marker="o", color="tab:red", label="Duration p50")
        axis.vlines(
            x,
            [s.duration_p50_ms for s in sizes],
            [s.duration_p90_ms for s in sizes],
            color="tab:red",
            alpha=0.4,
            label="... to p90",
        )
        for i, size in enumerate(sizes):
            if not size.succeeded:
                axis.annotate(
                    _failure_text(size),
                    (i, size.duration_p50_ms),
                    textcoords="offset points",
                    xytext=(4, 6),
                    fontsize=8,
                    color="tab:red",
                )
        axis.set(
            xticks=x,
            xticklabels=[f"{s.memory_mb}" for s in sizes],
            xlabel="memory (MB)",
            ylabel="Duration (ms)",
        )
        axis.set_ylim(bottom=0)
        cost = axis.twinx()
        cost.plot(
            x, [s.cost_usd * 1_000_000 for s in sizes], marker="s", color="tab:blue", label="$ per million"
        )
        cost.set_ylabel("cost per million invocations ($)")
        cost.set_ylim(bottom=0)
        handles = axis.get_legend_handles_labels()[0] + cost.get_legend_handles_labels()[0]
        # below the axes, clear of the data (the lines cross the whole plot)
        axis.legend(
            handles,
            [h.get_label() for h in handles],
            fontsize=8,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncol=3,
            frameon=False,
        )
        chosen = {"cheapest": self.cheapest, "fastest": self.fastest, "balanced": self.balanced}
        picks = ", ".join(f"{k} {v.memory_mb} MB" for k, v in chosen.items() if v)
        axis.set_title(
            f"{self.function_name}: {self.event_summary}\n{picks or 'no size succeeded'}", fontsize=9
        )
        axis.figure.tight_layout()
        return axis.figure


def _failure_text(size: SizeResult) -> str:
    kinds = sorted({r.error_type or r.status for r in size.failures})
    text = f"{len(size.failures)} of {len(size.runs)} failed ({', '.join(kinds)})"
    return text + (f"; {size.skipped} runs skipped" if size.skipped else "")


# -- invoking ---------------------------------------------------------------------------------------
def parse_report(log_tail: str) -> dict[str, str]:
    """The fields of the last REPORT line in a log tail: {"Duration": "3.01 ms", ...}."""
    lines = [line for line in log_tail.splitlines() if line.startswith("REPORT RequestId:")]
    if not lines:
        return {}
    return dict(part.split(": ", 1) for part in lines[-1].strip("\t").split("\t") if ": " in part)


def _number(text: str | None) -> float | None:
    return float(text.split()[0]) if text else None


def invoke_once(client, function_name: str, payload: bytes) -> Run:
    """One synchronous invocation through the Lambda API, read from its REPORT line."""
    response = client.invoke(FunctionName=function_name, Payload=payload, LogType="Tail")
    body = response["Payload"].read()
    report = parse_report(base64.b64decode(response.get("LogResult") or b"").decode("utf-8", "replace"))
    if not report:
        raise ConfigError(f"The invocation of {function_name} returned no REPORT line in its log tail.")
    status, error_type = "success", None
    if report.get("Status") == "timeout":
        status, error_type = "timeout", "Sandbox.Timedout"
    elif response.get("FunctionError"):
        status = "error"
        try:
            error_type = (json.loads(body) or {}).get("errorType")
        except (ValueError, AttributeError):
            error_type = None
        error_type = error_type or report.get("Error Type") or "Unhandled"
    return Run(
        status=status,
        duration_ms=_number(report["Duration"]),
        billed_ms=int(_number(report["Billed Duration"])),
        max_memory_mb=int(_number(report.get("Max Memory Used")) or 0),
        init_ms=_number(report.get("Init Duration")),
        error_type=error_type,
    )


def lambda_client(endpoint_url: str, read_timeout_s: float, region: str = DEFAULT_REGION):
    """A Lambda client that never retries an invocation (a retried invoke would run the function twice)
    and waits as long as the function may run."""
    return boto3.client(
        "lambda",
        endpoint_url=endpoint_url,
        region_name=region,
        **LOCAL_CREDENTIALS,
        config=BotoConfig(read_timeout=read_timeout_s, retries={"total_max_attempts": 1}),
    )


def check_memory_sizes(sizes) -> list[int]:
    sizes = sorted({int(s) for s in sizes})
    bad = [s for s in sizes if not MIN_MEMORY_MB <= s <= MAX_MEMORY_MB]
    if not sizes or bad:
        raise ConfigError(
            f"Memory sizes must be whole numbers of MB from {MIN_MEMORY_MB} to {MAX_MEMORY_MB}; "
            f"got {', '.join(map(str, bad)) or 'none'}."
        )
    return sizes


def _warm_runs(client, function_name: str, payload: bytes, size: SizeResult, runs: int) -> None:
    """``runs`` warm invocations into ``size``; after STOP_AFTER_FAILURES failures in a row the rest are
    skipped."""
    in_a_row = 0
    for done in range(runs):
        run = invoke_once(client, function_name, payload)
        size.runs.append(run)
        in_a_row = in_a_row + 1 if run.status != InvocationStatus.SUCCESS else 0
        if in_a_row >= STOP_AFTER_FAILURES:
            size.skipped = runs - done - 1
            return


def tune(
    endpoint_url: str,
    function_name: str,
    event,
    memory_sizes=DEFAULT_MEMORY_SIZES,
    runs: int = DEFAULT_RUNS,
    *,
    event_summary: str | None = None,
    full_cpu: bool = False,
    progress: Callable[[str], None] | None = None,
    max_rounds: int = 1,
) -> TuningResult:
    """Invoke ``function_name`` at each memory size (one cold start, then ``runs`` warm runs) through the
    Lambda API at ``endpoint_url``; its memory size is restored afterwards. With ``max_rounds`` > 1 a size
    gets another ``runs`` warm runs while its Duration p50 still moves by STABLE_WITHIN or more, up to
    ``max_rounds`` rounds. ``full_cpu`` only labels the result (say whether the sandbox runs with
    --full-cpu)."""
    if runs < 1:
        raise ConfigError(f"The number of runs must be at least 1; got {runs}.")
    sizes = check_memory_sizes(memory_sizes)
    setup = lambda_client(endpoint_url, 60)
    configuration = setup.get_function_configuration(FunctionName=function_name)
    original = configuration["MemorySize"]
    architecture = (configuration.get("Architectures") or ["x86_64"])[0]
    client = lambda_client(endpoint_url, configuration.get("Timeout", 3) + 60)
    payload = json.dumps(event).encode()
    results = []
    try:
        for memory in sizes:
            setup.update_function_configuration(FunctionName=function_name, MemorySize=memory)
            size = SizeResult(memory, architecture)
            size.cold = invoke_once(client, function_name, payload)
            _warm_runs(client, function_name, payload, size, runs)
            while size.succeeded and size.rounds < max_rounds:
                before = size.duration_p50_ms
                _warm_runs(client, function_name, payload, size, runs)
                size.rounds += 1
                size.last_move = abs(size.duration_p50_ms - before) / before if before else 0.0
                if size.last_move < STABLE_WITHIN:
                    break
            results.append(size)
            if progress:
                progress(
                    f"{memory} MB: Duration p50 {size.duration_p50_ms:.1f} ms"
                    + (f" ({size.rounds} rounds)" if size.rounds > 1 else "")
                    + ("" if size.succeeded else f" ({_failure_text(size)})")
                )
    finally:
        setup.update_function_configuration(FunctionName=function_name, MemorySize=original)
    return TuningResult(function_name, event_summary or "the given event", runs, full_cpu, results)
