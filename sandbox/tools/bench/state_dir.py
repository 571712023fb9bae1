"""The state directory's costs (``run_local.py bench --only state``): what sandbox/state/ costs.

Restart to ready with 1,000 objects and 10,000 log events kept (goal: <= 3 s), with where the time goes
and everything counted again afterwards; and what keeping the state costs each upload (goal: p50 <= 2 ms
more), with the store's commits per upload. Everything lives in temporary directories, deleted at the
end.

What it measures and how: docs/tools.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sandbox.config import PROJECT_ROOT, SandboxConfig
from sandbox.lambda_.invocation import InvocationStatus
from sandbox.telemetry.cloudwatch_logs import log_group_name, new_log_stream_name

BUCKET = "bench-state-objects"  # no notification configuration: nothing runs for these objects
OBJECTS = 1_000
OBJECT_BYTES = 200 * 1024
LOG_EVENTS = 10_000
EVENTS_PER_BATCH = 5  # one warm invocation's lines, one PutLogEvents each (the writer lingers 0.2 s)
LOG_STREAMS = 10  # execution environments
RESTARTS = 3
ROUNDS = (("memory", "state"), ("state", "memory"))  # back to back, both orders
READY_GOAL_S = 3.0
UPLOAD_GOAL_MS = 2.0


def _pct(values, q):
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]
        if ordered
        else float("nan")
    )


def _config(state_dir: Path | None) -> SandboxConfig:
    return SandboxConfig(
        port=0,
        web_port=None,
        terminal_logs=False,
        state_dir=str(state_dir) if state_dir is not None else None,
    )


def _size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


# -- filling a state directory ----------------------------------------------------------------------
def _put_objects(sb) -> None:
    s3 = sb.client("s3")
    s3.create_bucket(Bucket=BUCKET)

    def put(i: int) -> None:
        client = clients.get(threading.get_ident())
        if client is None:
            client = clients[threading.get_ident()] = sb.client("s3")
        # random-ish: a JPEG's first bytes, then noise (nothing compresses, as with real photos)
        body = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(OBJECT_BYTES - 11)
        client.put_object(Bucket=BUCKET, Key=f"photos/{i:04d}.jpg", Body=body, ContentType="image/jpeg")

    clients: dict = {}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(OBJECTS)))


def _log_batches(stream_index: int, count: int, start_ms: int) -> list[list[dict]]:
    """``count`` events of one environment, as warm invocations write them (5 lines each), in batches of
    ``EVENTS_PER_BATCH``."""
    events, ts = [], start_ms
    for n in range(count // 5):
        request_id = str(uuid.UUID(bytes=hashlib.md5(f"{stream_index}/{n}".encode()).digest()))
        key = f"photo-{stream_index}-{n}.jpg"
        lines = [
            f"START RequestId: {request_id} Version: $LATEST",
            f"[INFO]\t{_iso(ts + 1)}\t{request_id}\tResizing s3://source-image-bucket123/{key}",
            f"[INFO]\t{_iso(ts + 40)}\t{request_id}\tWrote s3://resized-image-bucket123/resized-{key} "
            "(400x300)",
            f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: 41.20 ms\tBilled Duration: 42 ms\tMemory Size: "
            f"128 MB\tMax Memory Used: 61 MB\t",
        ]
        events += [
            {"timestamp": ts + offset, "message": line} for offset, line in zip((0, 1, 40, 42, 42), lines)
        ]
        ts += 100
    return [events[i : i + EVENTS_PER_BATCH] for i in range(0, len(events), EVENTS_PER_BATCH)]


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def _put_log_events(sb) -> tuple[str, list[str]]:
    group = log_group_name(sb.function.function_name)
    logs = sb.client("logs")
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    per_stream = LOG_EVENTS // LOG_STREAMS
    start_ms = int(time.time() * 1000) - (per_stream // 5) * 100 - 60_000
    streams = [new_log_stream_name() for _ in range(LOG_STREAMS)]
    for stream in streams:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)

    def write(index: int) -> None:
        client = sb.client("logs", validate=False)
        for batch in _log_batches(index, per_stream, start_ms):
            client.put_log_events(logGroupName=group, logStreamName=streams[index], logEvents=batch)

    with ThreadPoolExecutor(LOG_STREAMS) as pool:
        list(pool.map(write, range(LOG_STREAMS)))
    return group, streams


def _inventory(sb, group: str) -> dict:
    """What the sandbox holds: the bench bucket's objects (key -> size, ETag) and the group's events,
    through the APIs (as a user would look) and in the page's mirror."""
    objects = {}
    for page in sb.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        objects.update({o["Key"]: (o["Size"], o["ETag"]) for o in page.get("Contents", [])})
    events = 0
    for page in sb.client("logs").get_paginator("filter_log_events").paginate(logGroupName=group):
        events += len(page.get("events", []))
    return {"objects": objects, "events": events, "mirror": len(sb.log_events(group=group))}


@contextlib.contextmanager
def _restore_phases(phases: dict[str, float]):
    """Time a restart's restore phases (added up into ``phases``) while the block runs, by wrapping the
    functions persistence.py calls; put back afterwards."""
    from sandbox.state import moto_backends
    from sandbox.state.persistence import Persistence
    from sandbox.state.recorder import StateRecorder

    wrapped = [
        (moto_backends, "replay", "replay"),
        (moto_backends, "load_key", "objects"),
        (StateRecorder, "snapshot", "fold"),
        (Persistence, "open", "open"),
        (Persistence, "restore_endpoint", "moto"),
        (Persistence, "restore_sandbox", "sandbox"),
        (Persistence, "resume", "resume"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in wrapped]

    def timed(call, label):
        def run(*args, **kwargs):
            began = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                phases[label] = phases.get(label, 0.0) + time.perf_counter() - began

        return run

    for (owner, name, label), (_, _, call) in zip(wrapped, originals):
        setattr(owner, name, timed(call, label))
    try:
        yield phases
    finally:
        for owner, name, call in originals:
            setattr(owner, name, call)


def _restart(directory: Path, before: dict, group: str) -> dict:
    """One restart from ``directory``: to ready (wall and this process's CPU), the phases, what is there."""
    from sandbox.core import Sandbox

    phases: dict[str, float] = {}
    with _restore_phases(phases):
        began, cpu_began = time.perf_counter(), time.process_time()
        sb = Sandbox(_config(directory))
        sb.start()
    try:
        ready, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        after = _inventory(sb, group)
        return {
            "ready_s": ready,
            "cpu_s": cpu,
            "phases": phases,
            "restored": dict(sb.persistence.restored),
            "described": sb.persistence.describe(),
            "problems": _compare(before, after, sb.restored),
            "after": {"objects": len(after["objects"]), "events": after["events"], "mirror": after["mirror"]},
        }
    finally:
        sb.stop()


def bench_restart(restarts: int = RESTARTS) -> dict:
    """Fill a state directory, then restart from a copy of it ``restarts`` times (each restart finds the
    state as the session left it, its log appends not yet folded), once more from the last copy (nothing
    left to replay), and the same through ``run_local.py``."""
    from sandbox.core import Sandbox

    base = Path(tempfile.mkdtemp(prefix="bench-state-"))
    kept = base / "kept" / "guide"  # where run_local.py --state-dir BASE/kept keeps the guide's stack

    def copy(name: str) -> Path:
        shutil.copytree(kept, base / name / "guide", ignore=shutil.ignore_patterns("lock"))
        return base / name

    try:
        started = time.perf_counter()
        with Sandbox(_config(kept)) as sb:
            _put_objects(sb)
            objects_s = time.perf_counter() - started
            group, _ = _put_log_events(sb)
            sb.logs.flush()
            before = _inventory(sb, group)
            figures = {
                "fill_objects_s": objects_s,
                "fill_s": time.perf_counter() - started,
                "fill_writes": sb.persistence.store.writes,
                "first_start_s": sb.startup_seconds,
                "kept": sb.persistence.store.counts(),
            }
        figures.update(
            size=_size(kept),
            db_size=(kept / "state.sqlite3").stat().st_size,
            objects=len(before["objects"]),
            bytes=sum(s for s, _ in before["objects"].values()),
            events=before["events"],
        )
        runs = []
        for i in range(restarts):
            root = copy(f"run-{i}")
            runs.append(_restart(root / "guide", before, group))
            if i < restarts - 1:
                shutil.rmtree(root)
        again = _restart(root / "guide", before, group)
        shutil.rmtree(root)
        cli = []
        for i in range(restarts):
            root = copy(f"cli-{i}")
            cli.append(_cli_restart(root))
            if i < restarts - 1:
                shutil.rmtree(root)
        cli_again = _cli_restart(root)
        shutil.rmtree(root)
        return {
            **figures,
            "runs": runs,
            "again": again,
            "cli": cli,
            "cli_again": cli_again,
            "ready_s_median": statistics.median(r["ready_s"] for r in runs),
            "cpu_s_median": statistics.median(r["cpu_s"] for r in runs),
            "phases": {
                label: statistics.median(r["phases"].get(label, 0.0) for r in runs)
                for label in set().union(*(r["phases"] for r in runs))
            },
            "problems": [p for r in runs + [again] for p in r["problems"]],
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _compare(before: dict, after: dict, restored: bool) -> list[str]:
    problems = []
    if not restored:
        problems.append("the sandbox says it restored nothing")
    if before["events"] != LOG_EVENTS:
        problems.append(f"{before['events']:,} log events before the restart, {LOG_EVENTS:,} were put")
    if len(before["objects"]) != OBJECTS:
        problems.append(f"{len(before['objects']):,} objects before the restart, {OBJECTS:,} were put")
    missing = set(before["objects"]) - set(after["objects"])
    changed = [
        k for k in before["objects"] if k in after["objects"] and before["objects"][k] != after["objects"][k]
    ]
    if missing:
        problems.append(f"{len(missing):,} objects missing after the restart (e.g. {sorted(missing)[0]})")
    if changed:
        problems.append(f"{len(changed):,} objects changed size or ETag (e.g. {changed[0]})")
    if after["events"] != before["events"]:
        problems.append(f"log events: {after['events']:,} after the restart, {before['events']:,} before")
    if after["mirror"] != before["events"]:
        problems.append(
            f"the page's log mirror has {after['mirror']:,} events after the restart, "
            f"{before['events']:,} in CloudWatch Logs"
        )
    return problems


_READY = re.compile(r"ready in ([0-9.]+) s")


def _cli_restart(base: Path) -> dict:
    """``run_local.py --state-dir BASE`` to its "ready" line: a new process, as a user restarts it."""
    from sandbox.tools.bench.runner import _free_port

    began = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(PROJECT_ROOT / "run_local.py"),
            "--port",
            str(_free_port()),
            "--no-web",
            "--quiet",
            "--state-dir",
            str(base),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=PROJECT_ROOT,
    )
    output, found = [], {}
    try:
        for line in proc.stdout:
            output.append(line)
            ready = _READY.search(line)
            if ready:
                found = {
                    "wall_s": time.perf_counter() - began,
                    "cpu_s": _cpu_seconds(proc.pid),
                    "banner_s": float(ready.group(1)),
                }
                break
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if not found:
        print("  !!! run_local.py --state-dir did not get ready:\n    " + "    ".join(output[-10:]))
    found["state_line"] = next(
        (line.split(":", 1)[1].strip() for line in output if line.strip().startswith("state ")), ""
    )
    return found


def _cpu_seconds(pid: int) -> float:
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return float("nan")
    return times.user + times.system


# -- cost per upload ----------------------------------------------------------------------------------
class _StoreTimer:
    """Counts the store's commits (by kind) and the time spent in them, on one store instance."""

    def __init__(self, store):
        self.store, self.seconds, self.kinds, self.lock = store, 0.0, {}, threading.Lock()
        for method in ("put", "put_many", "append", "delete", "delete_prefix"):
            setattr(store, method, self._timed(method, getattr(store, method)))

    def _timed(self, method, call):
        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - began
                with self.lock:
                    self.seconds += elapsed
                    kind = _kind(method, args)
                    self.kinds[kind] = self.kinds.get(kind, 0) + 1

        return timed

    def reset(self) -> None:
        with self.lock:
            self.seconds, self.kinds = 0.0, {}


def _kind(method: str, args) -> str:
    """What a commit wrote: ``s3key``, ``record``, ``logs appends``, ``source/s3-accepted put``..."""
    if method == "append":
        return f"{args[0]} appends"
    if method == "put_many":
        return "s3key"
    name = str(args[0]) if args else ""
    kind = "/".join(name.split("/", 2)[:2]) if name.startswith("source/") else name.split("/", 1)[0]
    return kind + (f" {method}" if method != "put" else "")


def _upload(sb, key: str, body: bytes) -> dict | None:
    """One upload: its acknowledgement, its resized object (the invocation final), the handler's Duration."""
    began = time.perf_counter()
    sb.s3.put_object(Bucket=sb.config.source_bucket, Key=key, Body=body)
    acked = time.perf_counter()
    record = sb.wait_for_key(key, timeout=60)
    done = time.perf_counter()
    if record is None or record.status != InvocationStatus.SUCCESS:
        print(f"  warning: {key} ended as {getattr(record, 'status', 'no record')}")
        return None
    e2e = (done - began) * 1000
    return {
        "ack": (acked - began) * 1000,
        "e2e": e2e,
        "duration": record.duration_ms,
        "overhead": e2e - record.duration_ms,
    }


def _uploads(mode: str, uploads: int, body: bytes) -> dict:
    from sandbox.core import Sandbox

    directory = Path(tempfile.mkdtemp(prefix="bench-state-uploads-")) if mode == "state" else None
    try:
        config = _config(directory)
        config.full_cpu = True  # the handler at full speed: its Duration varies less than at 7 % of a CPU
        with Sandbox(config) as sb:
            timer = _StoreTimer(sb.persistence.store) if sb.persistence else None
            for i in range(3):  # the cold start, then two warm ones
                _upload(sb, f"bench-state/{mode}-warmup-{i}.jpg", body)
            sb.logs.flush()
            sb.metrics.flush()
            writes = sb.persistence.store.writes if sb.persistence else 0
            if timer:
                timer.reset()
            found = [_upload(sb, f"bench-state/{mode}-{i}.jpg", body) for i in range(uploads)]
            sb.logs.flush()
            sb.metrics.flush()
            run = {"uploads": [f for f in found if f is not None]}
            if sb.persistence:
                run.update(
                    commits=sb.persistence.store.writes - writes,
                    commit_s=timer.seconds,
                    kinds=dict(timer.kinds),
                )
            return run
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def bench_uploads(uploads: int = 20) -> dict:
    from sandbox.tools.bench.runner import TEST_JPG

    body = TEST_JPG.read_bytes()
    runs: dict[str, list[dict]] = {"memory": [], "state": []}
    for order in ROUNDS:
        for mode in order:
            runs[mode].append(_uploads(mode, uploads, body))
    figures = {"uploads": uploads, "rounds": len(ROUNDS)}
    for mode, found in runs.items():
        each = [upload for run in found for upload in run["uploads"]]
        figures[mode] = {
            "count": len(each),
            **{
                f"{what}_p{q}_ms": _pct([u[what] for u in each], q)
                for what in ("ack", "e2e", "duration", "overhead")
                for q in (50, 90)
            },
        }
    state = runs["state"]
    counted = sum(len(run["uploads"]) for run in state) or 1
    kinds: dict[str, int] = {}
    for run in state:
        for kind, n in run["kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + n
    figures["commits_per_upload"] = sum(run["commits"] for run in state) / counted
    figures["commit_ms_per_upload"] = sum(run["commit_s"] for run in state) * 1000 / counted
    figures["commit_kinds"] = {kind: n / counted for kind, n in sorted(kinds.items())}
    return figures


# -- printing -------------------------------------------------------------------------------------
def _print_restart(restart: dict) -> None:
    from sandbox.tools.bench.runner import _line

    mb, runs, again = restart["bytes"] / 1e6, restart["runs"], restart["again"]
    appends = restart["kept"].get("appends", 0)
    _line(
        f"state filled: {restart['objects']:,} objects ({mb:.0f} MB), {restart['events']:,} log events",
        f"{restart['fill_s']:.1f} s",
        f"objects {restart['fill_objects_s']:.1f} s; {restart['fill_writes']:,} "
        f"commits; {appends:,} log appends kept; the empty start took {restart['first_start_s']:.2f} s",
    )
    _line(
        "state directory on disk",
        f"{restart['size'] / 1e6:.1f} MB",
        f"state.sqlite3 {restart['db_size'] / 1e6:.1f} MB for {mb:.0f} MB of objects",
    )
    each = ", ".join(f"{run['ready_s']:.2f}" for run in runs)
    _line(
        f"restart to ready, Sandbox(...).start() (median of {len(runs)})",
        f"{restart['ready_s_median']:.2f} s",
        f"goal <= {READY_GOAL_S:.0f} s  (each from a copy of the session's state: {each} s; "
        f"CPU {restart['cpu_s_median']:.2f} s)",
    )
    phases = restart["phases"]
    for key, label, note in (
        ("open", "opening the database (PRAGMA quick_check)", ""),
        ("moto", "moto's state", ""),
        ("entities", "  reading SQLite, loading moto's services", f"{restart['db_size'] / 1e6:.0f} MB read"),
        ("objects", "  putting the objects back", f"{restart['objects']:,} objects"),
        ("replay", "  replaying the appends", f"{appends:,} PutLogEvents/PutMetricData requests"),
        ("fold", "  folding them into one snapshot", "CloudWatch Logs pickled and written"),
        ("sandbox", "functions, history, the page's log mirror", ""),
        ("resume", "mappings, unfinished events", ""),
        ("rest", "the rest of start()", "endpoint, Lambda service, sources, stack"),
    ):
        if key == "entities":
            value = phases.get("moto", 0.0) - sum(phases.get(k, 0.0) for k in ("objects", "replay", "fold"))
        elif key == "rest":
            value = restart["ready_s_median"] - sum(
                phases.get(k, 0.0) for k in ("open", "moto", "sandbox", "resume")
            )
        else:
            value = phases.get(key, 0.0)
        _line(f"  {label}", f"{value:.2f} s", note)
    _line(
        "restart again (the appends already folded)",
        f"{again['ready_s']:.2f} s",
        f"CPU {again['cpu_s']:.2f} s",
    )
    cli = [c for c in restart["cli"] if "wall_s" in c]
    if cli:
        _line(
            f"restart to ready, run_local.py --state-dir (median of {len(cli)})",
            f"{statistics.median(c['wall_s'] for c in cli):.2f} s",
            f"goal <= {READY_GOAL_S:.0f} s  (a new process to its 'ready' line, which says "
            f"{statistics.median(c['banner_s'] for c in cli):.2f} s; CPU "
            f"{statistics.median(c['cpu_s'] for c in cli):.2f} s)",
        )
    if "wall_s" in restart["cli_again"]:
        _line(
            "  the same again (the appends already folded)",
            f"{restart['cli_again']['wall_s']:.2f} s",
            f"CPU {restart['cli_again']['cpu_s']:.2f} s",
        )
    after = runs[-1]["after"]
    _line(
        "after each restart: objects / events (API) / page's mirror",
        f"{after['objects']:,} / {after['events']:,} / {after['mirror']:,}",
        f"put: {OBJECTS:,} / {LOG_EVENTS:,}, every object's size and ETag compared",
    )
    print(f"  restored: {runs[-1]['described']}")
    print(f"  restored again: {again['described']}")
    if restart["cli"] and restart["cli"][-1].get("state_line"):
        print(f"  run_local.py's banner: state: {restart['cli'][-1]['state_line']}")
    for problem in restart["problems"]:
        print(f"  !!! MISMATCH: {problem}")


def _print_uploads(figures: dict) -> None:
    from sandbox.tools.bench.runner import _line

    memory, state = figures["memory"], figures["state"]
    for found, label in ((memory, "in memory only"), (state, "with a state directory")):
        _line(
            f"upload -> resized, warm p50 of {found['count']}, {label}",
            f"{found['e2e_p50_ms']:.1f} ms",
            f"p90 {found['e2e_p90_ms']:.1f} ms",
        )
    _line(
        "cost of persistence per upload, p50 (state - memory)",
        f"{state['e2e_p50_ms'] - memory['e2e_p50_ms']:+.1f} ms",
        f"goal <= {UPLOAD_GOAL_MS:.0f} ms  (p90 {state['e2e_p90_ms'] - memory['e2e_p90_ms']:+.1f} ms)",
    )
    for what, label in (
        ("ack", "the upload's 200 (PutObject)"),
        ("duration", "the handler's Duration (its PutObject included)"),
        ("overhead", "the rest (upload -> resized minus Duration)"),
    ):
        _line(
            f"  {label}, p50",
            f"{state[f'{what}_p50_ms'] - memory[f'{what}_p50_ms']:+.1f} ms",
            f"{memory[f'{what}_p50_ms']:.1f} -> {state[f'{what}_p50_ms']:.1f} ms",
        )
    commits = figures["commits_per_upload"]
    _line(
        "the store's commits per upload",
        f"{commits:.2f}",
        f"{figures['commit_ms_per_upload'] / max(commits, 1e-9):.2f} ms each (lock waits included), "
        f"{figures['commit_ms_per_upload']:.1f} ms per upload in all threads",
    )
    for kind, n in figures["commit_kinds"].items():
        _line(f"  {kind}", f"{n:.2f}")
    print(
        f"  ({figures['rounds']} rounds of {figures['uploads']} warm uploads of test.jpg, a new sandbox "
        "each, in memory then with a state directory, then the other way round; --full-cpu)"
    )


def run(uploads: int = 20) -> dict:
    from sandbox.tools.bench.runner import _line

    began, load = time.perf_counter(), os.getloadavg()
    restart = bench_restart()
    _print_restart(restart)
    figures = bench_uploads(uploads)
    _print_uploads(figures)
    _line(
        "(this part's wall time; load average before / after)",
        f"{time.perf_counter() - began:.0f} s",
        f"{load[0]:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores",
    )
    return {"restart": restart, "uploads": figures}
