"""The execution environments of one function: choose a warm one or create one, up to a concurrency limit.

As on AWS: environments are created on demand; an idle one is reused (the most recently used first,
which keeps the others idle long enough to be shut down); one idle longer than the idle timeout is shut
down; a configuration or code change retires every environment of the old revision (busy ones finish
their invocation first). When every allowed environment is busy the invocation is throttled.

Each environment gets its memory's share of a CPU while it runs an invocation (cpu_share.py); describe()
shows the share and what holding the worker to it measured. More: docs/execution-environment.md.
"""

from __future__ import annotations

import threading
import time

from sandbox.config import FunctionConfiguration
from sandbox.errors import ConfigError
from sandbox.lambda_.cpu_share import vcpu_count, vcpu_share
from sandbox.lambda_.debugging import refusal
from sandbox.lambda_.execution_environment import EnvironmentSettings, ExecutionEnvironment
from sandbox.lambda_.invocation import InvocationRecord
from sandbox.telemetry import cloudwatch_logs as cw


class Throttled(Exception):
    """Rate exceeded: every environment the function may have is busy (TooManyRequestsException)."""


class EnvironmentPool:
    def __init__(
        self, function: FunctionConfiguration, logs: cw.CloudWatchLogs, settings: EnvironmentSettings
    ):
        self.function = function
        self.logs = logs
        self.settings = settings
        self._lock = threading.Lock()
        self._idle: list[ExecutionEnvironment] = []
        self._busy: set[ExecutionEnvironment] = set()
        self.throttles = 0
        self.environments_created = 0
        self.on_capacity: list = []  # called (no arguments) whenever an environment is handed back
        if self.debug is not None:  # run_local.py --debug: its port is open while the function is here
            reason = refusal(function, settings.bootstrap_command)
            if reason:
                raise ConfigError(reason)
            settings.debug.open_for(function).start()

    @property
    def name(self) -> str:
        return self.function.function_name

    def update(self, function: FunctionConfiguration) -> None:
        """A new configuration or code: idle environments are retired now, busy ones when they finish."""
        with self._lock:
            self.function = function
            retired, self._idle = self._idle, []
        for env in retired:
            env.stop(reason="configuration changed")

    def acquire(self) -> ExecutionEnvironment:
        with self._lock:
            while self._idle:
                env = self._idle.pop()
                if env.alive and env.function.revision == self.function.revision:
                    self._busy.add(env)
                    return env
                env.stop(reason="configuration changed")
            if len(self._busy) >= self.concurrency_limit:
                self.throttles += 1
                raise Throttled(
                    f"Rate Exceeded: {self.name} has {len(self._busy)} busy execution "
                    f"environments, its reserved concurrency."
                )
            env = ExecutionEnvironment(self.function, self.logs, self.settings)
            self.environments_created += 1
            self._busy.add(env)
            return env

    @property
    def debug(self):
        """The function's debug session (run_local.py --debug), or None."""
        return self.settings.debug.session(self.name) if self.settings.debug else None

    @property
    def concurrency_limit(self) -> int:
        # Debugged: one environment at a time, so every breakpoint is in the one process the editor sees.
        return 1 if self.debug is not None else self.function.reserved_concurrency

    def release(self, env: ExecutionEnvironment) -> None:
        with self._lock:
            self._busy.discard(env)
            keep = env.alive and env.function.revision == self.function.revision
            if keep:
                self._idle.append(env)
        if not keep:
            env.stop(reason="configuration changed" if env.alive else env.exit_reason or "ended")
        for callback in list(self.on_capacity):
            callback()

    def invoke(self, record: InvocationRecord, payload: bytes, stream=None) -> InvocationRecord:
        env = self.acquire()
        try:
            return env.invoke(record, payload, stream)
        finally:
            self.release(env)

    def reap_idle(self, idle_timeout_s: float) -> int:
        """Shut down environments idle longer than ``idle_timeout_s``; returns how many."""
        now = time.monotonic()
        with self._lock:
            stale = [e for e in self._idle if now - e.last_used > idle_timeout_s]
            self._idle = [e for e in self._idle if e not in stale]
        for env in stale:
            env.stop(reason="idle")
        return len(stale)

    def shutdown(self) -> None:
        with self._lock:
            envs = self._idle + list(self._busy)
            self._idle, self._busy = [], set()
        for env in envs:
            env.stop(reason="sandbox stopped")
        if self.debug is not None:
            self.debug.stop()

    @property
    def concurrent_executions(self) -> int:
        with self._lock:
            return len(self._busy)

    def describe(self) -> list[dict]:
        with self._lock:
            envs = [(e, "busy") for e in self._busy] + [(e, "idle") for e in self._idle]
        return [
            {
                "id": e.id,
                "state": state,
                "pid": e.pid,
                "log_stream": e.log_stream,
                "invocations": e.invocation_count,
                "revision": e.function.revision,
                "max_memory_used_mb": e.peak_memory_mb(),
                "cpu": self._cpu(e),
            }
            for e, state in envs
        ]

    def _cpu(self, env: ExecutionEnvironment) -> dict:
        """The environment's CPU share (None with full CPU) and what holding it there measured."""
        memory = env.function.memory_size
        held_free = self.settings.cpu.full_cpu or self.debug is not None  # debugged: full CPU
        return {
            "vcpu_share": None if held_free else vcpu_share(memory),
            "vcpus": vcpu_count(memory),
            "cores": env.pinned_cores,
            **env.cpu_stats.as_dict(),
        }
