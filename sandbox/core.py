"""The Sandbox: the composition root. It builds the local endpoint, the Lambda service, the dead letters,
logs, metrics and the event sources, starts them in order, stops them in reverse, and hands the CLI,
the page and the notebooks one object to view.

    with Sandbox(SandboxConfig(port=0, web_port=None)) as sb:
        sb.s3.upload_file("sample_images/test.jpg", sb.config.source_bucket, "test.jpg")
        print(sb.wait_for_key("test.jpg").status)

Collaborators can be passed in (``endpoint=``, ``event_sources=``) where a test wants its own.
The packages and their layers: docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sandbox.config import GUIDE_MANAGED_POLICY_ARNS, LOCAL_CREDENTIALS, FunctionConfiguration, SandboxConfig
from sandbox.endpoint.access import AccessPolicy
from sandbox.endpoint.clients import SharedClients, endpoint_client
from sandbox.endpoint.sandbox_api import SandboxApi
from sandbox.endpoint.server import LocalEndpoint
from sandbox.errors import ConfigError
from sandbox.event_sources import SourceContext, event_source_classes
from sandbox.event_sources.schedules import ScheduledEventSource
from sandbox.guide.stack import GuideStack
from sandbox.lambda_ import cpu_share
from sandbox.lambda_.accounting import UsageAccounting
from sandbox.lambda_.api import LambdaApiInterceptor
from sandbox.lambda_.dead_letters import DeadLetters
from sandbox.lambda_.env_vars import runtime_packages_dir
from sandbox.lambda_.environment_pool import EnvironmentPool
from sandbox.lambda_.execution_environment import EnvironmentSettings
from sandbox.lambda_.invocation import InvocationLog, InvocationRecord
from sandbox.lambda_.service import LambdaService
from sandbox.sam.applications import Applications
from sandbox.state import Persistence
from sandbox.telemetry import cloudwatch_logs as cw
from sandbox.telemetry.metrics import LambdaMetrics
from sandbox.telemetry.pricing import CostSummary
from sandbox.telemetry.traces import TraceRecorder

# AWS's own runtime client, run against the sandbox's Runtime API instead of the built-in bootstrap.
AWSLAMBDARIC_COMMAND = ("{python}", "-u", "-m", "awslambdaric", "{handler}")
# The sandbox compresses AWS's retry delays (1 and 2 minutes) to 1 and 2 seconds unless told otherwise.
COMPRESSED_RETRY_DELAY_SCALE = 1 / 60


class Sandbox:
    def __init__(
        self,
        config: SandboxConfig | None = None,
        function: FunctionConfiguration | None = None,
        *,
        endpoint: LocalEndpoint | None = None,
        event_sources: list | None = None,
        startup_stack=None,
    ):
        self.config = config or SandboxConfig()
        self.config.validate()
        # What start() creates through the APIs: the guide's stack, or a template's (sandbox/sam/).
        self.startup_stack = startup_stack or GuideStack(function or FunctionConfiguration())
        self.records = InvocationLog()
        self.cost = CostSummary()
        # One event's path across services and the session's service map (sandbox/telemetry/traces.py).
        self.traces = TraceRecorder()
        self.records.subscribe(self.traces.on_invocation)
        # Who may use the endpoint (origins, Host names, the network token); the page adds its origin.
        self.access = AccessPolicy(
            bind_host=self.config.host,
            allowed_origins=set(self.config.allowed_origins),
            access_token=self.config.access_token,
            moto_api=self.config.moto_api,
        )
        self.endpoint = endpoint or LocalEndpoint(
            self.config.host, self.config.port, access=self.access, routes={"/_sandbox/": SandboxApi(self)}
        )
        # --state-dir: what changes is written before it is acknowledged, and restored on start
        # (sandbox/state/)
        self.persistence = (
            Persistence(
                self.config.state_dir,
                fresh=self.config.fresh,
                salvage=self.config.salvage,
                report=self._report,
            )
            if self.config.state_dir
            else None
        )
        self.endpoint.observe_traced_requests(
            lambda r: self.traces.add_request(
                r.trace_header, r.service, r.operation, r.resource, r.node, r.status, r.start, r.end
            )
        )
        if self.persistence:
            self.persistence.install(self)
        self._shared_client = SharedClients(lambda: self.endpoint_url, self.config.region)
        context = SourceContext(
            self.config.region,
            self._shared_client,
            self.endpoint.object_facts,
            self._report,
            time_scale=self.config.time_scale,
            state=self.persistence,
            bucket_notifications=self.endpoint.bucket_notifications,
            access=self.access,
            traces=self.traces,
            sns_publications=self.endpoint.observe_sns_publications,
            s3_eventbridge=self.endpoint.observe_s3_eventbridge,
        )
        self.event_sources = (
            event_sources
            if event_sources is not None
            else [source(context) for source in event_source_classes()]
        )
        for source in self.event_sources:
            for service, wrap in source.service_middleware().items():
                self.endpoint.add_service_middleware(service, wrap)
            for prefix, app in source.routes().items():  # public URLs (execute-api)
                self.endpoint.add_public_route(app, path_prefix=prefix)
            for suffix, app in source.host_routes():
                self.endpoint.add_public_route(app, host_suffix=suffix)
        self.endpoint.add_service_middleware("awslambda", lambda app: LambdaApiInterceptor(app, self.service))
        self.template_stacks = Applications(
            self
        )  # stacks made from templates; CloudFormation's API creates them too
        self.endpoint.add_service_app("cloudformation", self.template_stacks.cloudformation_app())
        self._running = contextlib.ExitStack()  # what start() started, stopped in reverse by stop()
        self.service: LambdaService | None = None
        self.logs: cw.CloudWatchLogs | None = None
        self.metrics: LambdaMetrics | None = None
        self.started_at: float | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        started = time.perf_counter()
        with contextlib.ExitStack() as starting:  # a failed start stops what it had started
            if self.persistence:
                self.state_dir = self.persistence.open().files_dir
                starting.callback(self.persistence.close)
            else:
                self.state_dir = Path(tempfile.mkdtemp(prefix="lambda-sandbox-"))
                starting.callback(shutil.rmtree, self.state_dir, ignore_errors=True)
            self.endpoint.start()
            starting.callback(self.endpoint.stop)
            self.endpoint.load_aws_managed_policies(
                tuple(a.rsplit("/", 1)[-1] for a in GUIDE_MANAGED_POLICY_ARNS)
            )
            # The sandbox's own writers skip boto3's parameter validation: they build valid requests, and
            # validating thousands of log events per batch costs the CPU the invocations need.
            self.logs = cw.CloudWatchLogs(self.client("logs", validate=False))
            starting.callback(self.logs.close)
            self.metrics = LambdaMetrics(self.client("cloudwatch", validate=False))
            starting.callback(self.metrics.close)
            self.service = self._lambda_service()
            starting.callback(self.service.stop)
            accounting = UsageAccounting(self.cost, self.metrics, self.service.runtime)
            if self.persistence:
                self.persistence.restore_sandbox(self, accounting)
            self.records.subscribe(accounting.on_record_change)
            for source in self.event_sources:
                source.start(self.service)
                starting.callback(source.stop)
            starting.callback(self.template_stacks.stop)
            if not self.restored:
                self.startup_stack.create(self)
            else:  # the resources came back with the state: the stacks are rebuilt, nothing created
                self.startup_stack.restore(self)
                self.template_stacks.restore()
            if self.persistence:
                self.persistence.resume(self)
            self.service.reap_idle_every(self.config.idle_timeout_s)
            if self.config.hot_reload:
                from sandbox.devloop.hot_reload import CodeWatcher

                starting.callback(CodeWatcher(self, report=self._report).start().stop)
            self._running = starting.pop_all()
        self.started_at = time.time()
        self.startup_seconds = time.perf_counter() - started  # shown by the walkthrough notebook
        return self

    def _lambda_service(self) -> LambdaService:
        settings = EnvironmentSettings(
            endpoint_url=self.endpoint_url,
            region=self.config.region,
            python=self.config.python or sys.executable,
            init_timeout_s=self.config.init_timeout_s,
            bootstrap_command=AWSLAMBDARIC_COMMAND if self.config.runtime_client == "awslambdaric" else None,
            runtime_packages=str(runtime_packages_dir(self.state_dir / "runtime")),
            cpu=self.config,
        )
        dead_letters = DeadLetters(
            self.shared_client("sqs"), self.config.region, self.metrics.put, self._report
        )
        return LambdaService(
            logs=self.logs,
            settings=settings,
            records=self.records,
            dead_letters=dead_letters,
            code_dir=self.state_dir,
            default_function=self.startup_stack.default_function,
            count_metric=self.metrics.put,
            async_workers=self.startup_stack.async_workers,
            retry_delay_scale=1.0 if self.config.real_retry_delays else COMPRESSED_RETRY_DELAY_SCALE,
            describers=[source.describe for source in self.event_sources],
        )

    def stop(self) -> None:
        self.started_at = None
        self._running.close()
        self._shared_client.clear()  # a restart listens on another port

    @property
    def restored(self) -> bool:
        """True when this start restored a state directory's state."""
        return bool(self.persistence and self.persistence.restored)

    @property
    def running(self) -> bool:
        return self.started_at is not None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- clients -------------------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        return self.endpoint.url

    def client(self, service: str, validate: bool = True):
        """A new boto3 client for the local endpoint, as a user's code would make one."""
        return endpoint_client(self.endpoint_url, self.config.region, service, validate)

    def shared_client(self, service: str):
        """The sandbox's own client for ``service`` (its stacks, sources, state, page): one per service."""
        return self._shared_client(service)

    @property
    def s3(self):
        return self._shared_client("s3")

    @property
    def sqs(self):
        return self._shared_client("sqs")

    def client_environment(self) -> dict[str, str]:
        """The lines a user pastes so the AWS CLI and boto3 use the local endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": self.config.region,
        }

    # -- functions (the Lambda service's, for the CLI, the page and the notebooks) --------------------
    @property
    def function(self) -> FunctionConfiguration:
        return self.service.runtime_or_fail(self.startup_stack.default_function).function

    def functions(self) -> list[FunctionConfiguration]:
        return self.service.functions()

    def runtime(self, function_name: str) -> EnvironmentPool | None:
        return self.service.runtime(function_name)

    def register_function(self, function: FunctionConfiguration) -> EnvironmentPool:
        return self.service.register(function)

    def retire_environments(self, function_name: str | None = None) -> None:
        self.service.retire_environments(function_name)

    def update_function_configuration(
        self, function_name: str | None = None, **changes
    ) -> FunctionConfiguration:
        """As the console's Configuration tab: memory_size, timeout, environment or handler (see
        LambdaService.update_configuration)."""
        return self.service.update_configuration(self.shared_client("lambda"), function_name, **changes)

    def triggers(self) -> list[dict]:
        """Every function's triggers, as their event sources describe them (page, `run_local.py triggers`)."""
        return [t for source in self.event_sources for t in source.triggers()] + self.service.alias_entries()

    def stream_mappings(self, function_name: str | None = None) -> list[dict]:
        """The stream sources' triggers (DynamoDB stream mappings), of one function or all: the mappings the
        sandbox knows, without the AWS calls the other sources' triggers make (the page's Monitor tab asks
        on every read)."""
        streams = [s for s in self.event_sources if "stream" in getattr(s, "trigger_kind", "").lower()]
        return [t for s in streams for t in s.triggers() if function_name in (None, t.get("function"))]

    def set_full_cpu(self, on: bool) -> None:
        """--full-cpu at run time (the page's setting): True lets every environment use the whole machine;
        False holds each to its memory's share of a CPU, as on AWS. Busy environments follow at once."""
        self.config.full_cpu = bool(on)

    def cpu_share(self, memory_mb: int | None = None) -> dict:
        """What an environment of the function (or of ``memory_mb``) gets: share, vCPUs, a sentence."""
        return cpu_share.describe(memory_mb or self.function.memory_size, self.config.full_cpu)

    def invoke(
        self,
        event: dict,
        function_name: str | None = None,
        trigger: str = "invoke",
        trace_id: str | None = None,
    ) -> InvocationRecord:
        """A synchronous invocation (RequestResponse), in the caller's thread."""
        return self.service.invoke(event, function_name, trigger, trace_id)

    def invoke_async(
        self,
        event: dict,
        function_name: str | None = None,
        trigger: str = "invoke",
        trace_id: str | None = None,
    ) -> InvocationRecord:
        return self.service.invoke_async(event, function_name, trigger, trace_id)

    def dead_letters(self, function_name: str | None = None, limit: int = 100) -> list[dict]:
        """The events waiting in the dead-letter queue (peeked: they stay in the queue)."""
        return self.service.dead_lettered(function_name, limit)

    def redrive(
        self, function_name: str | None = None, message_ids: list[str] | None = None
    ) -> list[InvocationRecord]:
        """Re-submit dead-lettered events as new asynchronous invocations and remove them from the queue."""
        return self.service.redrive(function_name, message_ids)

    # -- scheduled rules (sandbox/event_sources/schedules/) ------------------------------------------
    def _schedule_source(self) -> ScheduledEventSource:
        for source in (s for s in self.event_sources if isinstance(s, ScheduledEventSource)):
            return source
        raise ConfigError("This sandbox was built without scheduled events.")

    def schedules(self) -> list[dict]:
        """Scheduled rules and Scheduler schedules with their targets and next fire time."""
        return self._schedule_source().schedules()

    def fire_rule(self, name: str, kind: str = "rule", group: str | None = None) -> list[InvocationRecord]:
        """Fire a scheduled rule (kind "schedule": a Scheduler schedule) now; its next time is unchanged."""
        return self._schedule_source().fire_now(name, kind, group)

    def applications(self) -> list[dict]:
        """The applications made from templates (--template, aws cloudformation deploy): sam/stack.py."""
        return self.template_stacks.describe()

    # -- reading -------------------------------------------------------------------------------------
    def _report(self, message: str) -> None:
        """A line for the person at the terminal (the CLI prints it; tests and notebooks ignore it)."""
        if self.config.terminal_logs:
            print(message, flush=True)

    def invocations(self) -> list[InvocationRecord]:
        """Every invocation attempt of the session, newest first."""
        return list(reversed(self.records.all()))

    def wait_for_key(
        self, key: str, timeout: float = 30.0, bucket: str | None = None
    ) -> InvocationRecord | None:
        """Wait until the invocation for an uploaded key has finished (success, or a final failure)."""
        about = {"bucket": bucket or self.config.source_bucket, "key": key}

        def done(record: InvocationRecord) -> bool:
            return (
                record.final
                and record.subject == about
                and record.attempt
                == max(
                    (r.attempt for r in self.records.all() if r.request_id == record.request_id), default=1
                )
            )

        return self.records.wait_for(done, timeout)

    def log_events(self, **filters) -> list[cw.LogEvent]:
        return self.logs.events(**filters)
