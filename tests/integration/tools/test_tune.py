"""Power tuning, locally (sandbox/tools/power_tuning.py, run_local.py tune): each memory size through the
Lambda API, its REPORT lines read back, and the cheapest, fastest and balanced sizes named as AWS Lambda Power
Tuning names them. Speed is checked as ratios with wide bounds, never as times."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.paths import PROJECT_ROOT
from helpers.sandboxes import free_port, start_sandbox
from sandbox.tools import power_tuning
from sandbox.tools.bench.memory_buys_cpu import calibrate_iterations
from sandbox.tools.power_tuning import Run, SizeResult, TuningResult, parse_report

CPU_BOUND = PROJECT_ROOT / "sandbox" / "tools" / "bench" / "handlers" / "cpu_bound"
pytestmark = pytest.mark.serial  # calibrates CPU speed and compares sizes' durations: alone on the cores


def _size(memory, *durations, status="success"):
    return SizeResult(memory, runs=[Run(status, d, int(d) + 1, 40) for d in durations])


def test_report_fields_are_read_from_the_last_report_line_of_a_log_tail():
    tail = (
        "START RequestId: a Version: $LATEST\nhello\nEND RequestId: a\n"
        "REPORT RequestId: a\tDuration: 3.01 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 36 MB\tInit Duration: 110.10 ms\tStatus: timeout\t\n"
    )
    assert parse_report(tail) == {
        "REPORT RequestId": "a",
        "Duration": "3.01 ms",
        "Billed Duration": "4 ms",
        "Memory Size": "128 MB",
        "Max Memory Used": "36 MB",
        "Init Duration": "110.10 ms",
        "Status": "timeout",
    }


def test_cheapest_fastest_and_balanced_are_chosen_as_power_tuning_chooses_them():
    result = TuningResult(
        "f",
        "an event",
        3,
        False,
        [
            _size(128, 1000, 1100, 1200),  # cheapest: 1,101 ms x 128 MB
            _size(512, 300, 310, 320),  # 311 ms x 512 MB: a little dearer, 3.5x faster
            _size(1769, 140, 150, 160),  # fastest, far dearer
            _size(3008, 79, 79, 79, status="timeout"),  # failed: never chosen, however fast
        ],
    )
    assert result.cheapest.memory_mb == 128
    assert result.fastest.memory_mb == 1769
    assert result.balanced.memory_mb == 512  # 0.5 * cost / max cost + 0.5 * time / max time is lowest
    assert [s.memory_mb for s in result.candidates] == [128, 512, 1769]
    report = result.report()
    assert "cheapest:" in report and "fastest:" in report and "balanced" in report
    assert "3 of 3 failed (timeout)" in report


def test_memory_sizes_outside_lambdas_range_are_refused_with_the_range():
    with pytest.raises(Exception, match="from 128 to 10240"):
        power_tuning.check_memory_sizes([64, 512])


@pytest.fixture(scope="module")
def iterations() -> int:
    return calibrate_iterations(40.0)  # ~40 ms of CPU at full speed: ~0.55 s at 128 MB


@pytest.mark.slow
def test_tuning_through_the_lambda_api_measures_each_size_and_restores_the_memory(iterations):
    sb = start_sandbox(CPU_BOUND, timeout=30, memory_size=256)
    try:
        result = power_tuning.tune(
            sb.endpoint_url, sb.function.function_name, {"iterations": iterations}, [128, 1769], runs=3
        )
        memory_after = sb.function.memory_size
    finally:
        sb.stop()
    small, large = result.sizes
    assert (small.memory_mb, large.memory_mb) == (128, 1769) and small.succeeded and large.succeeded
    assert small.cold.init_ms is not None and all(r.init_ms is None for r in small.runs)  # warm runs counted
    assert small.duration_p50_ms > 3 * large.duration_p50_ms  # AWS: 13.8x
    assert result.fastest is large
    assert memory_after == 256


@pytest.mark.slow
def test_a_size_that_times_out_is_reported_with_its_runs_cut_short_and_never_chosen(iterations):
    sb = start_sandbox(CPU_BOUND, timeout=1, maximum_retry_attempts=0)
    try:
        result = power_tuning.tune(
            sb.endpoint_url, sb.function.function_name, {"iterations": 5 * iterations}, [128, 1769], runs=4
        )  # ~2.7 s at 128 MB: past 1 s
    finally:
        sb.stop()
    small, large = result.sizes
    assert [r.status for r in small.runs] == ["timeout", "timeout"] and small.skipped == 2
    assert large.succeeded and result.cheapest is result.fastest is result.balanced is large
    assert "2 of 2 failed (Sandbox.Timedout); 2 runs skipped" in result.report()


@pytest.mark.slow
def test_run_local_tune_starts_a_temporary_sandbox_and_prints_each_size_as_json(tmp_path, iterations):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"iterations": iterations}))
    nobody = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "run_local.py"),
            "tune",
            "--event",
            str(event),
            "--code-dir",
            str(CPU_BOUND),
            "--memory-sizes",
            "512,1769",
            "--runs",
            "2",
            "--endpoint-url",
            nobody,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "starting a temporary one" in result.stderr
    figures = json.loads(result.stdout)
    assert [row["memory_mb"] for row in figures["sizes"]] == [512, 1769]
    # each size measured again until its p50 held still (or --rounds ran out): two rounds at least
    assert all(
        row["failures"] == 0 and row["rounds"] >= 2 and row["runs"] == 2 * row["rounds"]
        for row in figures["sizes"]
    )
    assert figures["fastest"] in (512, 1769) and figures["full_cpu"] is False
    assert figures["sizes"][0]["vcpu_share"] == pytest.approx(512 / 1769)


def test_the_report_says_whether_each_sizes_figures_held_still_between_rounds():
    steady, moving = _size(128, 1000, 1010, 990, 1000), _size(512, 300, 340, 280, 330)
    steady.rounds, steady.last_move = 2, 0.01
    moving.rounds, moving.last_move = 4, 0.12
    steady_report = TuningResult("f", "e", 2, False, [steady]).report()
    assert "steady: each size's Duration p50 moved less than 5%" in steady_report
    noisy = TuningResult("f", "e", 2, False, [steady, moving]).report()
    assert "NOISY: 512 MB's p50 still moved 12% after 4 rounds" in noisy
    one_round = TuningResult("f", "e", 2, False, [_size(128, 5, 6)])
    assert one_round.stability_note() is None  # one round: no claim either way


def test_the_chart_is_drawn_without_matplotlib(tmp_path):
    """tune --chart right after `make run`, whose install has no matplotlib: Pillow draws it."""
    chart = tmp_path / "tune.png"
    script = (
        "import sys; sys.modules['matplotlib'] = None\n"  # importing matplotlib now fails, as when absent
        "from sandbox.tools.power_tuning import Run, SizeResult, TuningResult\n"
        "from sandbox.cli.tune_chart import save_chart\n"
        "sizes = [SizeResult(m, runs=[Run('success', d, int(d) + 1, 40)])\n"
        "         for m, d in ((128, 700.0), (1024, 90.0))]\n"
        f"save_chart(TuningResult('f', 'an event', 1, False, sizes), {str(chart)!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(chart) as image:
        assert image.format == "PNG" and image.size == (960, 480)
        colors = image.convert("RGB").getcolors(image.width * image.height)
        red = sum(count for count, (r, g, b) in colors if r > 150 and g < 80 and b < 80)
        assert red > 200  # the Duration line and its markers are drawn
