"""Memory buys CPU, as on AWS: each execution environment's worker gets its memory's share of a CPU.

AWS allocates CPU in proportion to memory: one vCPU at 1,769 MB, so 7.2 % of one at 128 MB. Here the
worker gets a quota of CPU time per 20 ms window, counted from the moment the event is handed to the
runtime; when it has used the quota it is suspended until the window ends. INIT runs at full speed,
capped at 10 s, as AWS's on-demand INIT does. Where this machine has more cores than the function's
vCPUs, the worker is pinned to that many. ``full_cpu`` (``--full-cpu``) turns the share off.

Design note (the method, why not a cgroup, where it differs from AWS): docs/cpu-share.md.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from sandbox.config import MEMORY_MB_PER_VCPU, VCPU_COUNT_BY_MEMORY

WINDOW_S = 0.020  # the quota is enforced in windows of this length, counted from the invocation's start
_SHORTEST_WAIT_S = 0.0002
_spawned = itertools.count()  # spreads pinned workers over the cores


@dataclass
class CpuPolicy:
    """Whether environments are held to their share. Throttles read ``full_cpu`` live, so switching it
    (the page's setting) takes effect at once; the sandbox passes its SandboxConfig, which has it."""

    full_cpu: bool = False


# -- AWS's figures ----------------------------------------------------------------------------------
def vcpu_share(memory_mb: int) -> float:
    """vCPU-seconds of credit per second at ``memory_mb``: memory / 1,769 MB."""
    return memory_mb / MEMORY_MB_PER_VCPU


def vcpu_count(memory_mb: int) -> int:
    """How many vCPUs the function sees at ``memory_mb`` (2 up to 3,008 MB, 6 at 10,240 MB)."""
    for upper_mb, count in VCPU_COUNT_BY_MEMORY:
        if memory_mb <= upper_mb:
            return count
    return VCPU_COUNT_BY_MEMORY[-1][1]


def cpus_used(memory_mb: int, threads: int = 1) -> float:
    """The CPU (in vCPUs) that ``threads`` busy threads get on AWS: no more than one each, the vCPU
    count, or the credits."""
    return min(float(threads), float(vcpu_count(memory_mb)), vcpu_share(memory_mb))


def aws_duration_ratio(memory_mb: int, reference_mb: int = MEMORY_MB_PER_VCPU, threads: int = 1) -> float:
    """How many times longer CPU-bound work takes on AWS at ``memory_mb`` than at ``reference_mb``
    (13.8 at 128 MB against 1,769 MB for one thread)."""
    return cpus_used(reference_mb, threads) / cpus_used(memory_mb, threads)


# -- what this machine can give ---------------------------------------------------------------------
def host_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def host_shortfall(memory_mb: int, threads: int | None = None, cores: int | None = None) -> str | None:
    """A sentence when this machine has fewer cores than AWS gives at ``memory_mb`` (to ``threads`` busy
    threads, or to as many as can use it); None when it can give it all."""
    cores = cores or host_cores()
    wanted = vcpu_share(memory_mb) if threads is None else cpus_used(memory_mb, threads)
    if wanted <= cores + 1e-9:
        return None
    return (
        f"at {memory_mb} MB AWS gives {wanted:.2f} vCPUs of credit ({vcpu_count(memory_mb)} vCPUs); this "
        f"machine has {cores} cores, so code running more than {cores} busy threads is slower here "
        f"than on AWS"
    )


def describe(memory_mb: int, full_cpu: bool = False) -> dict:
    """What an environment of ``memory_mb`` gets, for the page and the CLI."""
    share = vcpu_share(memory_mb)
    if full_cpu:
        text = (
            f"full CPU: every environment may use all {host_cores()} cores of this machine, whatever its "
            f"memory (on AWS {memory_mb} MB gets {share:.1%} of a vCPU)"
        )
    else:
        text = (
            f"{memory_mb} MB gets {share:.1%} of a vCPU ({memory_mb} / {MEMORY_MB_PER_VCPU} MB) and "
            f"{vcpu_count(memory_mb)} vCPUs, as on AWS; INIT runs at full speed, as on AWS"
        )
    return {
        "memory_mb": memory_mb,
        "full_cpu": full_cpu,
        "vcpu_share": share,
        "vcpus": vcpu_count(memory_mb),
        "host_cores": host_cores(),
        "shortfall": None if full_cpu else host_shortfall(memory_mb),
        "text": text,
    }


def cores_for(memory_mb: int, index: int, available: list[int]) -> list[int] | None:
    """The cores worker number ``index`` is pinned to: its vCPU count of them, spread round the
    available ones; None when there are no more cores than vCPUs (nothing to pin)."""
    vcpus = vcpu_count(memory_mb)
    if len(available) <= vcpus:
        return None
    start = (index * vcpus) % len(available)
    return [available[(start + i) % len(available)] for i in range(vcpus)]


def pin_to_vcpus(pid: int, memory_mb: int) -> list[int] | None:
    """Pin a new worker to the function's vCPU count of cores, where the platform allows it."""
    try:
        process = psutil.Process(pid)
        cores = cores_for(memory_mb, next(_spawned), sorted(psutil.Process().cpu_affinity()))
        if cores is not None:
            process.cpu_affinity(cores)
        return cores
    except (AttributeError, psutil.Error, OSError, ValueError):  # macOS has no CPU affinity
        return None


# -- holding a worker to its share ------------------------------------------------------------------
def process_cpu_clock(pid: int) -> Callable[[], float]:
    """A function returning the CPU seconds process ``pid`` has used so far, all its threads."""
    if sys.platform.startswith("linux"):
        clock = (
            (~pid) << 3
        ) | 2  # the process's CPU-time clock (CPUCLOCK_SCHED), as clock_getcpuclockid(3) makes it
        try:
            time.clock_gettime(clock)
            return lambda: time.clock_gettime(clock)
        except OSError:
            pass
    process = psutil.Process(pid)

    def read() -> float:
        times = process.cpu_times()
        return times.user + times.system

    return read


@dataclass
class ThrottleStats:
    """What holding a worker to its share took, summed over invocations."""

    wall_s: float = 0.0  # time held
    cpu_s: float = 0.0  # CPU the worker used meanwhile
    suspended_s: float = 0.0  # time it spent suspended
    suspensions: int = 0
    overhead_s: float = 0.0  # CPU the sandbox's throttling thread used

    def add(self, other: ThrottleStats) -> None:
        for name in ("wall_s", "cpu_s", "suspended_s", "suspensions", "overhead_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict:
        return {
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "suspended_s": self.suspended_s,
            "suspensions": self.suspensions,
            "overhead_s": self.overhead_s,
            "measured_share": self.cpu_s / self.wall_s if self.wall_s else None,
        }


class CpuThrottle:
    """Holds one worker process to ``share`` CPUs while started: ``start()`` when the event is handed to
    the runtime, ``stop()`` (which always leaves the worker running, or gone) when the invocation ends."""

    def __init__(self, proc: subprocess.Popen, share: float, policy: CpuPolicy, window_s: float = WINDOW_S):
        self.proc = proc
        self.share = share
        self.policy = policy
        self.window_s = window_s
        self.stats = ThrottleStats()
        self._cpu = process_cpu_clock(proc.pid)
        self._windows_process = psutil.Process(proc.pid) if os.name != "posix" else None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> CpuThrottle:
        self._thread = threading.Thread(target=self._hold, name=f"cpu-share-{self.proc.pid}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> ThrottleStats:
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        return self.stats

    def _signal(self, suspend: bool) -> None:
        if self.proc.returncode is not None:  # reaped: its pid may belong to another process now
            raise ProcessLookupError(self.proc.pid)
        if self._windows_process is not None:
            (self._windows_process.suspend if suspend else self._windows_process.resume)()
        else:
            os.kill(self.proc.pid, signal.SIGSTOP if suspend else signal.SIGCONT)

    def _hold(self) -> None:
        own_cpu = time.thread_time()
        window, quota = self.window_s, self.share * self.window_s
        started = time.perf_counter()
        window_end = started + window
        suspended_at = None
        try:
            first_cpu = last_cpu = self._cpu()
        except (OSError, psutil.Error):
            return
        budget = quota  # CPU left in this window; below 0, what the next windows owe
        try:
            while True:
                now = time.perf_counter()
                try:
                    cpu = self._cpu()
                except (OSError, psutil.Error):  # the worker is gone
                    break
                budget -= cpu - last_cpu
                last_cpu = cpu
                if now >= window_end:  # one window or more has passed: a new quota, less what was overdrawn
                    passed = int((now - window_end) // window) + 1
                    window_end += passed * window
                    budget = min(quota, min(budget, 0.0) + passed * quota)
                if self.policy.full_cpu or budget > 0:
                    if suspended_at is not None:
                        self._signal(False)
                        self.stats.suspended_s += now - suspended_at
                        suspended_at = None
                    # One busy thread spends the budget in as much wall time; wake then, or at the window's
                    # end.
                    wait = window_end - now if self.policy.full_cpu else min(window_end - now, budget)
                else:
                    if suspended_at is None:
                        self._signal(True)
                        suspended_at = now
                        self.stats.suspensions += 1
                    wait = window_end - now
                if self._stopping.wait(max(_SHORTEST_WAIT_S, wait)):
                    break
        except (ProcessLookupError, psutil.Error, OSError):
            pass  # the worker ended (killed at its deadline or memory limit, or it exited)
        finally:
            if suspended_at is not None:  # never leave a worker suspended
                try:
                    self._signal(False)
                except (ProcessLookupError, psutil.Error, OSError):
                    pass
                self.stats.suspended_s += time.perf_counter() - suspended_at
            try:
                self.stats.cpu_s = self._cpu() - first_cpu
            except (OSError, psutil.Error):
                self.stats.cpu_s = last_cpu - first_cpu
            self.stats.wall_s = time.perf_counter() - started
            self.stats.overhead_s = time.thread_time() - own_cpu
