"""One execution environment: a worker process, its Runtime API, its log stream, its /tmp.

The first invocation is a cold start (the process is spawned and imports the handler: INIT); later ones
reuse the process, its globals, its clients and its temporary folder. The environment ends after a
timeout, a crash, running out of memory, or when the pool retires it, as on AWS. Duration, Max Memory
Used, the memory limit, the timeout and the CPU share are measured and enforced here; ``--debug`` runs
the worker under debugpy with Lambda's clocks stopped while the debugger holds it.

How each compares with AWS: docs/execution-environment.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from sandbox.config import RUNTIME_VERSION, FunctionConfiguration
from sandbox.lambda_ import runtimes
from sandbox.lambda_.cpu_share import CpuPolicy, CpuThrottle, ThrottleStats, pin_to_vcpus, vcpu_share
from sandbox.lambda_.debugging import InvocationClock, debugpy_folder, held_log_line
from sandbox.lambda_.env_vars import RoleCredentials, build_environment
from sandbox.lambda_.invocation import ERROR, OUT_OF_MEMORY, SUCCESS, TIMEOUT, InvocationRecord
from sandbox.lambda_.response_streaming import ResponseStream
from sandbox.lambda_.runtime_api import NextInvocation, RuntimeApiServer
from sandbox.telemetry import cloudwatch_logs as cw
from sandbox.telemetry.pricing import billed_duration_ms, gb_seconds, invocation_cost

BOOTSTRAP = Path(__file__).resolve().parent / "bootstrap.py"
MARKER = b"\x1f\x1fSANDBOX:"
MEMORY_SAMPLE_S = 0.005
# What Node's inspector writes to stderr: its private address is the sandbox's business, not the log's.
_INSPECTOR_NOTICES = (
    b"Debugger listening on ",
    b"For help, see: https://nodejs.org/",
    b"Debugger attached.",
    b"Debugger ending on ",
    b"Waiting for the debugger to disconnect",
)
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class EnvironmentSettings:
    """What every environment of a sandbox shares."""

    endpoint_url: str
    region: str = "us-east-1"
    python: str = sys.executable
    init_timeout_s: float = 10.0
    credentials: RoleCredentials = RoleCredentials()
    # The Python bootstrap marks the end of each invocation's output; another runtime client
    # (awslambdaric) does not, and the sandbox then waits only briefly for its last lines.
    bootstrap_command: tuple[str, ...] | None = None
    runtime_packages: str | None = None  # the runtime's own packages (boto3) for strict functions
    # Whether environments are held to their memory's share of a CPU, read live (the sandbox passes its
    # SandboxConfig, whose full_cpu the page can switch).
    cpu: CpuPolicy = field(default_factory=CpuPolicy)

    # run_local.py --debug and --env-vars are the sandbox's configuration (``cpu``: its SandboxConfig).
    @property
    def debug(self):
        """A debugging.Debugging: the functions whose environments run under a debugger, or None."""
        return getattr(self.cpu, "debug", None)

    @property
    def env_overrides(self):
        """An env_vars_file.EnvVarsFile (--env-vars env.json, SAM CLI's format), or None."""
        return getattr(self.cpu, "env_vars_file", None)


class _Outcome:
    """How one invocation ended, set once by whichever source is first."""

    def __init__(self):
        self._event = threading.Event()
        self.kind: str | None = None  # "response", "error", "exit", "timeout", "oom", "init_error"
        self.payload: bytes = b""
        self.error_type: str | None = None
        self.at: float | None = None

    def set(self, kind: str, payload: bytes = b"", error_type: str | None = None) -> bool:
        if self._event.is_set():
            return False
        self.kind, self.payload, self.error_type, self.at = kind, payload, error_type, time.perf_counter()
        self._event.set()
        return True

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


def _open_proc_file(pid: int, name: str) -> int | None:
    """A descriptor of ``/proc/<pid>/<name>`` to pread again and again (None if it cannot be opened)."""
    try:
        return os.open(f"/proc/{pid}/{name}", os.O_RDONLY)
    except OSError:
        return None


class ExecutionEnvironment:
    def __init__(
        self,
        function: FunctionConfiguration,
        logs: cw.CloudWatchLogs,
        settings: EnvironmentSettings,
        on_exit: Callable[[ExecutionEnvironment], None] | None = None,
    ):
        self.id = uuid.uuid4().hex[:8]
        self.function = function
        self.logs = logs
        self.settings = settings
        self.on_exit = on_exit or (lambda env: None)
        self.log_group = cw.log_group_name(function.function_name)
        self.log_stream = cw.new_log_stream_name(version=function.version)
        self.state = "new"  # new -> initializing -> idle <-> busy -> dead
        self.invocation_count = 0
        self.last_used = time.monotonic()
        self.created_at = time.time()
        self.exit_reason: str | None = None
        self._proc: subprocess.Popen | None = None
        self._api = RuntimeApiServer(self, worker_pid=lambda: self.pid)
        self._tmp = tempfile.mkdtemp(prefix=f"lambda-tmp-{self.id}-")
        self._lock = threading.Lock()
        self._init_requested = threading.Event()  # the runtime asked for its first event: INIT is over
        self._init_outcome = _Outcome()
        self._current: _Outcome | None = None
        self._current_request_id: str | None = None
        self._stream: ResponseStream | None = None  # where the current invocation's streamed bytes go
        self._markers: dict[str, threading.Event] = {"init": threading.Event()}
        self._killed_for: str | None = None
        self._sampled_peak = 0
        self._reader: threading.Thread | None = None
        self._ps: psutil.Process | None = None
        self._statm: int | None = None  # Linux: /proc/<pid>/statm and /status, kept open for pread
        self._status: int | None = None
        self.init_duration_ms: float | None = None
        self._throttle: CpuThrottle | None = None
        self.cpu_stats = ThrottleStats()  # holding the worker to its CPU share, over its invocations
        self.pinned_cores: list[int] | None = None
        self._writes_markers = settings.bootstrap_command is None  # see runtimes.command_for
        self.debug = settings.debug.session(function.function_name) if settings.debug else None
        self._debugger_ready_at: float | None = None  # when it was listening (its start is not INIT's)
        self._debug_clock = os.path.join(self._tmp + "-debug", "clock") if self.debug else None
        self._inspector_mode = "run"
        self._inspector_url: str | None = None  # a debugged Node worker's inspector
        self._node_debugged = self.debug is not None and runtimes.is_node(function.runtime)

    # -- Runtime API listener ------------------------------------------------------------------------
    def on_next_requested(self) -> None:
        self._init_requested.set()

    def on_response(self, request_id: str, payload: bytes) -> None:
        if self._current is not None and request_id == self._current_request_id:
            stream = self._stream
            if stream is not None and stream.streamed and stream.collect:
                payload = stream.collected()  # a streaming function invoked without streaming: buffered
            self._current.set("response", payload)

    def on_stream_start(self, request_id: str, content_type: str | None) -> ResponseStream | None:
        if self._current is None or request_id != self._current_request_id:
            return None
        if self._stream is None:  # a plain Invoke of a streaming function: its bytes are the response
            self._stream = ResponseStream(collect=True, pace=False)
        self._stream.start(content_type)
        return self._stream

    def on_error(self, request_id: str, payload: bytes, error_type: str | None) -> None:
        if self._current is not None and request_id == self._current_request_id:
            self._current.set("error", payload, error_type)

    def on_init_error(self, payload: bytes, error_type: str | None) -> None:
        self._init_outcome.set("init_error", payload, error_type)

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self.state not in ("dead",) and (self._proc is None or self._proc.poll() is None)

    def _spawn(self) -> None:
        self._api.start()
        env = build_environment(
            self.function,
            runtime_api=self._api.address,
            log_stream=self.log_stream,
            endpoint_url=self.settings.endpoint_url,
            region=self.settings.region,
            tmp_dir=self._tmp,
            runtime_dir=str(BOOTSTRAP.parent),
            credentials=self.settings.credentials,
            runtime_packages=self.settings.runtime_packages,
        )
        env.update(runtimes.environment_for(self.function))
        if self.settings.env_overrides is not None:  # only variables the function declares
            env.update(self.settings.env_overrides.for_function(self.function))
        node = runtimes.is_node(self.function.runtime)
        if self.debug is not None:  # read and removed from the environment by the runtime before the handler
            os.makedirs(os.path.dirname(self._debug_clock), exist_ok=True)
            env["SANDBOX_DEBUG_CLOCK"] = self._debug_clock
            if node:  # Node's inspector (node_debugging.py)
                self._inspector_mode = self.debug.worker_mode()
                env["SANDBOX_NODE_INSPECT"] = self._inspector_mode
            else:
                env["SANDBOX_DEBUGPY"] = debugpy_folder()
        command = [
            part.format(handler=self.function.handler, python=self.settings.python)
            for part in (
                self.settings.bootstrap_command
                or (self.settings.python, "-I", "-u", "-X", "utf8", str(BOOTSTRAP))
            )
        ]
        if self.debug is not None and not node:  # the debugger sees every module's real source (pydevd)
            command[1:1] = ["-X", "frozen_modules=off"]
        command, markers = runtimes.command_for(self.function, command)
        self._writes_markers = self._writes_markers if markers is None else markers
        kwargs = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True  # Ctrl-C in the terminal goes to the sandbox, not workers
        else:
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        cwd = Path(self.function.code_dir)
        self._proc = subprocess.Popen(
            command,
            env=env,
            cwd=str(cwd) if cwd.is_dir() else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **kwargs,
        )
        try:
            self._ps = psutil.Process(self._proc.pid)
        except psutil.Error:
            self._ps = None
        if not self.settings.cpu.full_cpu:  # no more cores than the function's vCPUs, INIT included
            self.pinned_cores = pin_to_vcpus(self._proc.pid, self.function.memory_size)
        if sys.platform.startswith("linux"):
            self._statm = _open_proc_file(self._proc.pid, "statm")
            self._status = _open_proc_file(self._proc.pid, "status")
        self._reader = threading.Thread(target=self._read_output, name=f"env-{self.id}-stdout", daemon=True)
        self._reader.start()

    def stop(self, reason: str = "shutdown") -> None:
        """End the environment (kill the process, close its Runtime API, remove its /tmp)."""
        with self._lock:
            if self.state == "dead":
                return
            self.state = "dead"
            self.exit_reason = self.exit_reason or reason
        self._release_cpu()  # a suspended worker is resumed before it is killed
        self._kill()
        if self._inspector_url is not None:
            self.debug.worker_gone(self._inspector_url)
        try:
            self._api.stop()
        except Exception:
            pass
        shutil.rmtree(self._tmp, ignore_errors=True)
        if self._debug_clock:
            shutil.rmtree(os.path.dirname(self._debug_clock), ignore_errors=True)
        kept, self._statm, self._status = (self._statm, self._status), None, None
        for fd in kept:
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.on_exit(self)

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                proc.kill()
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass

    # -- CPU share -----------------------------------------------------------------------------------
    def _hold_to_cpu_share(self) -> None:
        """From now until _release_cpu, the worker gets its memory's share of a CPU (not with full_cpu)."""
        if self.settings.cpu.full_cpu or self._proc is None or self.debug is not None:
            return  # a debugged function runs at full CPU: never suspended while the debugger holds it
        self._throttle = CpuThrottle(
            self._proc, vcpu_share(self.function.memory_size), self.settings.cpu
        ).start()

    def _release_cpu(self) -> None:
        """Stop holding the worker to its share; it is left running (or gone), never suspended."""
        with self._lock:  # the invocation's end and the environment's stop may both get here
            throttle, self._throttle = self._throttle, None
        if throttle is not None:
            self.cpu_stats.add(throttle.stop())

    # -- worker output -------------------------------------------------------------------------------
    def _read_output(self) -> None:
        """Turn the worker's stdout/stderr into log events; never blocks on the log writer."""
        stream = self._proc.stdout
        buffer = b""
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            lines = buffer.split(b"\n")
            buffer = lines.pop()
            if len(buffer) > cw.MAX_EVENT_BYTES:  # a huge line with no newline yet: emit what we have
                lines.append(buffer)
                buffer = b""
            for line in lines:
                self._handle_line(line)
        if buffer:
            self._handle_line(buffer)
        returncode = self._proc.wait()
        self._on_process_exit(returncode)

    def _handle_line(self, line: bytes) -> None:
        index = line.find(MARKER)
        if index >= 0:
            before, tag = line[:index], line[index + len(MARKER) :].decode("utf-8", "replace").strip()
            if before.strip():
                self._log_output(before)
            if tag.startswith("inspector:"):
                self._inspector_url = tag.partition(":")[2]
                self.debug.attach_worker(self._inspector_url, self._inspector_mode)
            elif tag == "inspector-ready":
                self.debug.worker_running(self._inspector_url)
                self._debugger_ready()
            elif tag.startswith("debugpy:"):
                threading.Thread(
                    target=self._attach_debugger,
                    args=(int(tag.partition(":")[2]),),
                    name=f"env-{self.id}-debugger",
                    daemon=True,
                ).start()
            self._markers.setdefault(tag, threading.Event()).set()
            return
        if line.strip() and not (self._node_debugged and line.startswith(_INSPECTOR_NOTICES)):
            self._log_output(line)

    def _log_output(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r").replace("\r", "\n")
        self.logs.put(self.log_group, self.log_stream, text, request_id=self._current_request_id)

    def _on_process_exit(self, returncode: int) -> None:
        if returncode < 0:
            # Worded as AWS words it (Go's process state strings): "signal: killed", ...
            words = {
                signal.SIGKILL if hasattr(signal, "SIGKILL") else 9: "killed",
                signal.SIGTERM: "terminated",
                signal.SIGSEGV: "segmentation fault",
                signal.SIGABRT: "aborted",
            }
            detail = f"signal: {words.get(-returncode, -returncode)}"
        else:
            detail = f"exit status {returncode}"
        if self._killed_for in ("timeout", "oom"):
            detail = "signal: killed"
        self._init_outcome.set("exit", detail.encode())
        if self._current is not None:
            self._current.set("exit", detail.encode())
        if self.state != "dead":
            self.stop(reason=f"runtime exited ({detail})")

    # -- memory --------------------------------------------------------------------------------------
    def _rss_mb(self) -> float:
        if self._statm is not None:  # Linux: one pread of /proc/<pid>/statm, kept open
            try:
                return int(os.pread(self._statm, 128, 0).split()[1]) * _PAGE_SIZE / (1024 * 1024)
            except (OSError, IndexError, ValueError):
                return 0.0
        try:
            return self._ps.memory_info().rss / (1024 * 1024)
        except (psutil.Error, AttributeError):
            return 0.0

    def peak_memory_mb(self) -> int:
        """The worker's peak resident memory so far, in MB (rounded up, as AWS reports whole MB)."""
        peak = self._sampled_peak
        pid = self.pid
        if pid is not None:
            try:
                if self._status is not None:  # Linux: VmHWM, in kB
                    status = os.pread(self._status, 4096, 0)
                    at = status.find(b"VmHWM:")
                    if at >= 0:
                        peak = max(peak, int(status[at + 6 : status.index(b"kB", at)]) / 1024)
                elif sys.platform == "win32":
                    peak = max(peak, psutil.Process(pid).memory_info().peak_wset / (1024 * 1024))
            except (OSError, ValueError, psutil.Error, AttributeError):
                pass
        return int(-(-peak // 1))

    # -- the two phases ------------------------------------------------------------------------------
    def initialize(self) -> float | None:
        """Spawn the worker and wait for its INIT phase. Returns Init Duration (ms), or None if INIT
        failed (the outcome is kept for the invocation that asked)."""
        self.state = "initializing"
        self.logs.put(
            self.log_group,
            self.log_stream,
            cw.init_start_line(
                runtimes.runtime_version(self.function.runtime, RUNTIME_VERSION), self.settings.region
            ),
        )
        if self.debug is not None and self.debug.target.wait and runtimes.is_node(self.function.runtime):
            self.debug.wait_for_editor()  # --debug-wait: the editor is there before INIT (untimed)
        started = time.perf_counter()
        held = self.debug.held_seconds() if self.debug else 0.0
        try:
            self._spawn()
        except runtimes.InvalidEntrypoint as exc:
            self._writes_markers = False
            self._init_outcome.set(
                "init_error",
                json.dumps({"errorType": "Runtime.InvalidEntrypoint", "errorMessage": str(exc)}).encode(),
            )
        deadline = started + self.settings.init_timeout_s
        while not self._init_requested.is_set():
            if self._init_outcome.wait(0.002):
                break
            if time.perf_counter() > deadline + self._debuggers_time(started, held):
                self._init_outcome.set("init_timeout")
                self._kill()
                break
        init_ms = max(time.perf_counter() - started - self._debuggers_time(started, held), 0.0) * 1000
        self._wait_marker("init")
        self.init_duration_ms = init_ms
        if self._init_outcome.kind is not None and not self._init_requested.is_set():
            return None
        self.state = "idle"
        return init_ms

    def _debuggers_time(self, since: float, held_before: float) -> float:
        """Seconds since ``since`` that were the debugger's, not INIT's: starting debugpy (at most 30 s)
        and holding the worker at a breakpoint. The INIT limit and Init Duration leave them out."""
        if self.debug is None:
            return 0.0
        ready = self._debugger_ready_at or time.perf_counter()
        return min(max(ready - since, 0.0), 30.0) + self.debug.held_seconds() - held_before

    def _wait_marker(self, tag: str, timeout: float | None = None) -> None:
        if not self._writes_markers:
            timeout = 0.05 if timeout is None else min(timeout, 0.05)
        event = self._markers.setdefault(tag, threading.Event())
        event.wait(1.0 if timeout is None else timeout)
        self._markers.pop(tag, None)

    # Long on purpose: one invocation as Lambda runs it, in order (cold start if needed, the event handed
    # over, the deadline and the CPU share kept, the outcome and the REPORT line); each step is a call.
    def invoke(
        self, record: InvocationRecord, payload: bytes, stream: ResponseStream | None = None
    ) -> InvocationRecord:
        """Run one invocation in this environment and fill ``record`` with what happened; what the runtime
        streams goes to ``stream`` as it arrives (InvokeWithResponseStream, function URLs)."""
        function = self.function
        record.environment_id = self.id
        record.log_stream = self.log_stream
        record.memory_size_mb = function.memory_size
        record.executed_version = function.version
        cold = self.state == "new"
        record.cold_start = cold
        init_ms = None
        if cold:
            init_ms = self.initialize()
            if init_ms is None:
                return self._finish_init_failure(record)
        if self.debug is not None and self.debug.target.wait:
            self.debug.wait_for_editor()  # --debug-wait: untimed, before the event is handed over
        record.allocated_at = time.time()
        self.state = "busy"
        self.last_used = time.monotonic()
        self._current_request_id = record.request_id
        self._stream = stream
        outcome = self._current = _Outcome()
        self.logs.put(
            self.log_group,
            self.log_stream,
            cw.start_line(record.request_id, self.function.version),
            record.request_id,
        )
        record.started_at = time.time()
        start = time.perf_counter()
        deadline_ms = int(record.started_at * 1000 + function.timeout * 1000)
        self._hold_to_cpu_share()  # INIT ran at full speed; the invocation gets the memory's share
        clock = (
            InvocationClock(self.debug, record.request_id, deadline_ms, self._debug_clock)
            if self.debug
            else None
        )
        self._api.put(
            NextInvocation(
                request_id=record.request_id,
                payload=payload,
                deadline_ms=deadline_ms,
                # context.invoked_function_arn: as the caller named it (with its version or alias, if any)
                invoked_function_arn=function.arn(self.settings.region, record.qualifier),
                client_context=record.client_context,
                trace_id=record.trace_id or "Root=1-00000000-000000000000000000000000;Sampled=0",
            )
        )
        limit_mb = function.memory_size
        deadline = start + function.timeout
        try:
            # Sample often at first (a decode can grow fast), then every 10 ms to leave the CPU to the work.
            while not outcome.wait(
                MEMORY_SAMPLE_S if time.perf_counter() - start < 0.1 else 2 * MEMORY_SAMPLE_S
            ):
                rss = self._rss_mb()
                self._sampled_peak = max(self._sampled_peak, rss)
                if rss > limit_mb:
                    self._killed_for = "oom"
                    outcome.set("oom")
                    self._kill()
                elif time.perf_counter() >= deadline + (clock.held_s() if clock else 0) and not (
                    clock and self.debug.held
                ):
                    self._killed_for = "timeout"
                    outcome.set("timeout")
                    self._kill()
        finally:
            self._release_cpu()
        held_s = clock.close() if clock else 0.0
        end = outcome.at
        record.finished_at = time.time()
        duration_ms = max(end - start - held_s, 0.0) * 1000
        if held_s > 0:
            self.logs.put(self.log_group, self.log_stream, held_log_line(held_s), record.request_id)
        max_memory = self.peak_memory_mb()
        if outcome.kind in ("response", "error"):
            self._wait_marker("end:" + record.request_id)
            if max_memory > limit_mb:  # it passed the limit between two samples: AWS would have killed it
                outcome.kind = "oom"
                self._killed_for = "oom"
                self._kill()
        if outcome.kind == "timeout":
            duration_ms = function.timeout * 1000.0
        self._current = None
        if self._stream is not None:
            record.streamed_bytes = self._stream.bytes_written if self._stream.streamed else None
            if stream is not None:
                stream.finish()  # the client hears the end now; the REPORT line follows
        self._stream = None
        self._record_outcome(record, outcome, duration_ms, init_ms, max_memory)
        self.invocation_count += 1
        self.last_used = time.monotonic()
        if outcome.kind in ("response", "error") and self.alive:
            self.state = "idle"
        else:
            self.stop(reason=record.status)
        self._current_request_id = None
        return record

    def _attach_debugger(self, port: int) -> None:
        """The worker waits, before INIT, until the debug proxy has connected to its debugger and set the
        editor's breakpoints, so a breakpoint in module-level code is hit too."""
        try:
            self.debug.attach_worker(port, before_run=self._debugger_ready)
        except OSError as exc:
            self.logs.put(self.log_group, self.log_stream, f"DEBUG could not attach to the worker: {exc}")
            self._debugger_ready()

    def _debugger_ready(self) -> None:
        self._debugger_ready_at = time.perf_counter()  # INIT's own time starts now

    def _record_outcome(
        self,
        record: InvocationRecord,
        outcome: _Outcome,
        duration_ms: float,
        init_ms: float | None,
        max_memory: int,
    ) -> None:
        function = self.function
        request_id = record.request_id
        status_word = error_type = None
        if outcome.kind == "response":
            record.status = SUCCESS
            record.result = _decode(outcome.payload)
        elif outcome.kind == "error":
            record.status = ERROR
            record.result = _decode(outcome.payload)
            error = record.result if isinstance(record.result, dict) else {}
            record.error_type = error.get("errorType") or outcome.error_type or "Unhandled"
            record.error_message = error.get("errorMessage", "")
        elif outcome.kind == "timeout":
            record.status = TIMEOUT
            record.error_type = "Sandbox.Timedout"
            record.error_message = f"Task timed out after {function.timeout:.2f} seconds"
            self.logs.put(
                self.log_group,
                self.log_stream,
                cw.timeout_line(request_id, function.timeout, time.time()),
                request_id,
            )
            status_word, error_type = "timeout", None
        else:  # "oom" or "exit": the runtime process is gone
            detail = "signal: killed" if outcome.kind == "oom" else outcome.payload.decode()
            record.status = OUT_OF_MEMORY if outcome.kind == "oom" else ERROR
            record.error_type = "Runtime.OutOfMemory" if outcome.kind == "oom" else "Runtime.ExitError"
            record.error_message = f"RequestId: {request_id} Error: Runtime exited with error: {detail}"
            record.result = {"errorType": record.error_type, "errorMessage": record.error_message}
            self.logs.put(
                self.log_group, self.log_stream, f"{record.error_message}\n{record.error_type}", request_id
            )
            status_word, error_type = "error", record.error_type
        self.logs.put(self.log_group, self.log_stream, cw.end_line(request_id), request_id)
        billed = billed_duration_ms(duration_ms, init_ms)
        record.duration_ms = round(duration_ms, 2)
        record.init_duration_ms = round(init_ms, 2) if init_ms is not None else None
        record.billed_duration_ms = billed
        record.max_memory_used_mb = max_memory
        record.gb_seconds = gb_seconds(billed, function.memory_size)
        record.cost_usd = invocation_cost(billed, function.memory_size, function.architecture)
        self.logs.put(
            self.log_group,
            self.log_stream,
            cw.report_line(
                request_id,
                duration_ms,
                billed,
                function.memory_size,
                max_memory,
                init_ms,
                status_word,
                error_type,
            ),
            request_id,
        )
        record.logged_at = time.time()

    def _finish_init_failure(self, record: InvocationRecord) -> InvocationRecord:
        """INIT failed (import error, missing handler, init timeout, crash): the invocation fails with
        the runtime's error, and the environment is discarded, as on AWS."""
        outcome = self._init_outcome
        init_ms = self.init_duration_ms or 0.0
        error: dict = {}
        if outcome.kind == "init_error":
            error = _decode(outcome.payload) or {}
            error_type = error.get("errorType") or outcome.error_type or "Runtime.Unknown"
            message = error.get("errorMessage", "")
        elif outcome.kind == "init_timeout":
            error_type = "Runtime.InitTimeout"
            message = f"INIT phase exceeded {self.settings.init_timeout_s:.0f} seconds"
        else:
            error_type = "Runtime.ExitError"
            message = f"Runtime exited with error: {outcome.payload.decode() or 'unknown'}"
        self.logs.put(
            self.log_group,
            self.log_stream,
            f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: error\t"
            f"Error Type: {error_type}",
        )
        record.allocated_at = record.started_at = time.time()
        self.logs.put(
            self.log_group,
            self.log_stream,
            cw.start_line(record.request_id, self.function.version),
            record.request_id,
        )
        record.status = ERROR
        record.error_type = error_type
        record.error_message = message
        record.result = {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": record.request_id,
            "stackTrace": error.get("stackTrace", []) if isinstance(error, dict) else [],
        }
        record.finished_at = time.time()
        self.logs.put(self.log_group, self.log_stream, cw.end_line(record.request_id), record.request_id)
        billed = billed_duration_ms(0.0, init_ms)
        record.duration_ms = 0.0
        record.init_duration_ms = round(init_ms, 2)
        record.billed_duration_ms = billed
        record.max_memory_used_mb = self.peak_memory_mb()
        record.gb_seconds = gb_seconds(billed, self.function.memory_size)
        record.cost_usd = invocation_cost(billed, self.function.memory_size, self.function.architecture)
        self.logs.put(
            self.log_group,
            self.log_stream,
            cw.report_line(
                record.request_id,
                0.0,
                billed,
                self.function.memory_size,
                record.max_memory_used_mb,
                init_ms,
                "error",
                error_type,
            ),
            record.request_id,
        )
        record.logged_at = time.time()
        self.stop(reason="init failed")
        return record


def _decode(payload: bytes):
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")
