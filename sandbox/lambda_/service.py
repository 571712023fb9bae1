"""The Lambda service: the one place that knows functions (configuration, code, layers, concurrency,
event-invoke and recursion settings) and invokes them, synchronously or asynchronously.

Event sources (``sandbox/event_sources/``) turn what happened into invocations through ``submit`` (the
asynchronous path S3 and schedules use) or ``invoke`` (the synchronous path of API Gateway and the
pollers); the Lambda API on the local endpoint (``api.py``) calls the hooks below. The service
knows no event source: a source describes its own events (``describe``), so the records say what each
invocation was about without the runtime reading events.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from sandbox.config import (
    ACCOUNT_ID,
    DEFAULT_HANDLER,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    LAMBDA_RUNTIME,
    FunctionConfiguration,
)
from sandbox.errors import ConfigError, SandboxError
from sandbox.lambda_.async_invoke import AsyncInvoker
from sandbox.lambda_.dead_letters import DeadLetters
from sandbox.lambda_.destinations import Destinations, destination_problem
from sandbox.lambda_.environment_pool import EnvironmentPool, Throttled
from sandbox.lambda_.event_source_mappings import MappingConfig, validate_filters
from sandbox.lambda_.execution_environment import EnvironmentSettings
from sandbox.lambda_.invocation import InvocationLog, InvocationRecord, InvocationStatus, new_request_id
from sandbox.lambda_.packaging import (
    UNZIPPED_LIMIT_BYTES,
    PackageRefused,
    folder_size,
    too_large_unzipped,
)
from sandbox.lambda_.packaging.cache import unpack_reusing
from sandbox.lambda_.recursion import RECURSION_LIMIT, lineage_depth, new_trace_id, recursive_loop_message
from sandbox.lambda_.validation import LambdaApiError
from sandbox.lambda_.versions import LATEST, Alias, freeze_code, is_version, reference_from, split_reference
from sandbox.telemetry import cloudwatch_logs as cw
from sandbox.telemetry.traces import trace_root

# (event) -> (source, summary, subject) for events an event source recognises, else None.
Describer = Callable[[dict], "tuple[str, str, dict] | None"]


class LambdaService:
    def __init__(
        self,
        *,
        logs: cw.CloudWatchLogs,
        settings: EnvironmentSettings,
        records: InvocationLog,
        dead_letters: DeadLetters,
        code_dir: Path,
        default_function: str,
        count_metric: Callable[..., None],
        retry_delay_scale: float,
        async_workers: int,
        describers: Iterable[Describer] = (),
        destinations: Destinations | None = None,
    ):
        """``code_dir``: where zips from the API are unpacked; ``retry_delay_scale``: 1.0 waits AWS's
        1 and 2 minutes before retries, 1/60 waits 1 and 2 seconds (see async_invoke.py)."""
        self.logs = logs
        self.settings = settings
        self.records = records
        self.dead_letters = dead_letters
        # On-success and on-failure destinations, through the local endpoint unless given.
        self.destinations = destinations or Destinations.on_endpoint(
            settings.endpoint_url, settings.region, dead_letters.report
        )
        self.code_dir = Path(code_dir)
        self.default_function = default_function
        self._count_metric = count_metric
        self._describers = list(describers)
        self._functions: dict[str, EnvironmentPool] = {}  # $LATEST of each function
        self._versions: dict[str, dict[str, EnvironmentPool]] = {}  # name -> version number -> pool
        self._aliases: dict[str, dict[str, Alias]] = {}  # name -> alias name -> alias
        self._layers: dict[str, Path] = {}
        self._recursion_allowed: set[str] = set()  # functions with PutFunctionRecursionConfig Allow
        self.invoker = AsyncInvoker(
            self.pool_for,
            records,
            on_failure=self._on_failure,
            on_success=self._on_success,
            retry_delay_scale=retry_delay_scale,
            workers=async_workers,
            count_metric=count_metric,
        )
        self._stopped = threading.Event()
        self._janitor: threading.Thread | None = None
        self._mapping_runners: list = []  # polled event sources: accepts/validate/apply/remove
        self._mappings: dict[str, MappingConfig] = {}

    # -- lifecycle -----------------------------------------------------------------------------------
    def reap_idle_every(self, idle_timeout_s: float, interval_s: float = 1.0) -> None:
        """Shut down environments idle for ``idle_timeout_s`` (AWS: unspecified, minutes)."""

        def reap():
            while not self._stopped.wait(interval_s):
                for runtime in self._all_pools():
                    runtime.reap_idle(idle_timeout_s)

        self._janitor = threading.Thread(target=reap, name="idle-environments", daemon=True)
        self._janitor.start()

    def stop(self) -> None:
        """No retry or queued event starts any more; busy workers are killed so in-flight invocations
        end at once."""
        self._stopped.set()
        self.invoker.halt()
        for runtime in self._all_pools():
            runtime.shutdown()
        self.invoker.stop()

    # -- functions -----------------------------------------------------------------------------------
    def register(self, function: FunctionConfiguration) -> EnvironmentPool:
        """Make a function (its $LATEST, or a published version) runnable in the sandbox."""
        runtime = EnvironmentPool(function, self.logs, self.settings)
        runtime.on_capacity.append(lambda: self.invoker.capacity_available(function.function_name))
        if function.version == LATEST:
            self._functions[function.function_name] = runtime
        else:
            self._versions.setdefault(function.function_name, {})[function.version] = runtime
        return runtime

    def _all_pools(self) -> list[EnvironmentPool]:
        return list(self._functions.values()) + [
            pool for versions in list(self._versions.values()) for pool in list(versions.values())
        ]

    # -- what a state directory keeps of the service (sandbox/state/) -----------------------------------
    def registry(self) -> dict:
        """The functions as the sandbox runs them (folder, settings), layers' folders, recursion settings."""
        return {
            "functions": [r.function for r in self._functions.values()],
            "versions": [r.function for v in self._versions.values() for r in v.values()],
            "aliases": {name: dict(aliases) for name, aliases in self._aliases.items()},
            "layers": dict(self._layers),
            "recursion_allowed": set(self._recursion_allowed),
        }

    def restore_registry(self, registry: dict) -> None:
        for function in registry.get("functions", []):
            if function.function_name not in self._functions:
                self.register(function)
        for function in registry.get("versions", []):
            if function.version not in self._versions.get(function.function_name, {}):
                self.register(function)
        for name, aliases in registry.get("aliases", {}).items():
            self._aliases.setdefault(name, {}).update(aliases)
        self._layers.update(registry.get("layers", {}))
        self._recursion_allowed |= set(registry.get("recursion_allowed", ()))

    def resume_unfinished(self) -> list[InvocationRecord]:
        """Asynchronous events accepted but not finished when the sandbox stopped (restored records): each
        attempt is closed as interrupted and the event delivered again as the next attempt (at least once,
        as AWS promises). Synchronous ones are not: their caller got no answer and AWS does not retry them."""
        resumed = []
        for record in self.records.all():
            if (
                record.final
                or record.invocation_type != "Event"
                or self.runtime(record.function_name) is None
            ):
                continue
            record.status, record.final = InvocationStatus.ERROR, True
            record.error_type = "Sandbox.Interrupted"
            record.error_message = (
                "The sandbox stopped during this attempt; the event was delivered again after the restart."
            )
            self.records.changed(record)
            retry = record.next_attempt()
            self.invoker.submit(retry)
            resumed.append(retry)
        return resumed

    def runtime(self, function_name: str | None) -> EnvironmentPool | None:
        """The environments of a function named by name (its $LATEST) or ``name:qualifier`` (a version, or
        the version an alias points at), or None."""
        if not function_name:
            return None
        if ":" not in function_name:
            return self._functions.get(function_name)
        try:
            return self._pool(*split_reference(function_name))
        except LambdaApiError:
            return None

    def runtime_or_fail(self, function_name: str | None) -> EnvironmentPool:
        name = function_name or self.default_function
        runtime = self.runtime(name)
        if runtime is None:
            raise SandboxError(f"Function not found: {name}.")
        return runtime

    def _pool(self, name: str, qualifier: str | None, choose: bool = False) -> EnvironmentPool | None:
        """The pool a qualifier names: $LATEST's, a version's, or an alias's version (``choose``: drawn by
        its routing weights, as one invocation through the alias is; else the version it points at)."""
        if qualifier in (None, LATEST):
            return self._functions.get(name)
        if name not in self._functions:
            return None
        if is_version(qualifier):
            return self._versions.get(name, {}).get(qualifier)
        alias = self._aliases.get(name, {}).get(qualifier)
        if alias is None:
            return None
        return self._pool(name, alias.choose() if choose else alias.function_version)

    def pool_for(self, record: InvocationRecord) -> EnvironmentPool | None:
        """The environments an invocation runs in: those of the version its first attempt ran (a retry),
        else those its qualifier names, an alias's routing drawn afresh."""
        if record.executed_version:
            return self._pool(record.function_name, record.executed_version)
        return self._pool(record.function_name, record.qualifier, choose=True)

    def functions(self) -> list[FunctionConfiguration]:
        return [r.function for r in self._functions.values()]

    def versions(self, function_name: str) -> list[FunctionConfiguration]:
        """The published versions of a function, oldest first."""
        return [
            pool.function
            for _, pool in sorted(self._versions.get(function_name, {}).items(), key=lambda i: int(i[0]))
        ]

    def alias_entries(self) -> list[dict]:
        """Every alias as the triggers list shows it (the page, ``run_local.py triggers``): what invoking
        ``name:alias`` runs."""
        return [
            {
                "kind": "Alias",
                "source": f"{name}:{alias.name}",
                "function": name,
                "detail": alias.describe(),
                "state": "Enabled",
            }
            for name, alias in self.aliases()
        ]

    def aliases(self, function_name: str | None = None) -> list[tuple[str, Alias]]:
        """``(function name, alias)`` of one function or of all, by name."""
        return [
            (name, alias)
            for name, aliases in sorted(self._aliases.items())
            if function_name in (None, name)
            for _, alias in sorted(aliases.items())
        ]

    def retire_environments(self, function_name: str | None = None) -> None:
        """Code changed on disk: the next invocation starts cold with the new code."""
        runtime = self.runtime_or_fail(function_name)
        runtime.update(runtime.function.replace())

    # -- invoking ------------------------------------------------------------------------------------
    def new_record(
        self, event, function_name: str, trigger: str, trace_id: str | None = None, **fields
    ) -> InvocationRecord:
        name, qualifier = split_reference(function_name) if ":" in function_name else (function_name, None)
        record = InvocationRecord(
            request_id=new_request_id(),
            function_name=name,
            qualifier=qualifier,
            event=event,
            trigger=trigger,
            trace_id=trace_id or new_trace_id(name, 1),
            **fields,
        )
        if record.source is None:
            for describe in self._describers:
                described = describe(event)
                if described:
                    record.source, record.summary, record.subject = described
                    break
        return record

    def invoke(
        self, event, function_name: str | None = None, trigger: str = "invoke", trace_id: str | None = None
    ) -> InvocationRecord:
        """A synchronous invocation (RequestResponse), in the caller's thread. ``function_name`` may carry
        a qualifier (``name:3``, ``name:live``)."""
        name = function_name or self.default_function
        self.runtime_or_fail(name)
        return self.run(self.new_record(event, name, trigger, trace_id))

    def run(self, record: InvocationRecord, stream=None) -> InvocationRecord:
        """Run a prepared record synchronously (RequestResponse): the caller waits, nothing is retried.
        What the runtime streams goes to ``stream`` (a response_streaming.ResponseStream) as it is written.
        Raises Throttled when every environment the function may have is busy."""
        runtime = self.pool_for(record)
        if runtime is None:
            raise SandboxError(f"Function not found: {record.function_name}:{record.qualifier}.")
        record.invocation_type = "RequestResponse"
        self.records.add(record)
        record.status = InvocationStatus.RUNNING
        try:
            runtime.invoke(record, json.dumps(record.event).encode(), stream)
        except Throttled as exc:
            record.status, record.error_type, record.error_message = (
                InvocationStatus.THROTTLED,
                "TooManyRequestsException",
                str(exc),
            )
            record.final = True
            self.records.changed(record)
            raise
        record.responded_at = time.time()
        record.final = True
        self.records.changed(record)
        return record

    def invoke_async(
        self, event, function_name: str | None = None, trigger: str = "invoke", trace_id: str | None = None
    ) -> InvocationRecord:
        name = function_name or self.default_function
        self.runtime_or_fail(name)
        return self.invoker.submit(self.new_record(event, name, trigger, trace_id))

    def submit(self, record: InvocationRecord, chain_depth: int = 1) -> None:
        """An event source's asynchronous invocation (Event), ``chain_depth`` invocations into a chain of
        writes: past the recursion limit it is dropped, unless the function allows recursion."""
        if self._pool(record.function_name, record.qualifier) is None:
            return  # AWS would have refused a configuration naming an unknown function
        if chain_depth > RECURSION_LIMIT and record.function_name not in self._recursion_allowed:
            self._drop_recursive(record, chain_depth)
            return
        self.invoker.submit(record)

    def _drop_recursive(self, record: InvocationRecord, depth: int) -> None:
        record.status = InvocationStatus.DROPPED
        record.final = True
        record.error_type = "RecursiveInvocationException"
        record.error_message = recursive_loop_message(record.function_name, depth)
        self.records.add(record)
        self._count_metric(record.function_name, "RecursiveInvocationsDropped")
        self.logs.put(
            cw.log_group_name(record.function_name),
            "$sandbox/recursive-loop-detection",
            record.error_message,
            record.request_id,
        )
        self._on_failure(record, "RecursiveInvocationException")

    def _on_failure(self, record: InvocationRecord, condition: str) -> bool:
        """The dead-letter queue and the on-failure destination both receive, as on AWS."""
        runtime = self.runtime(record.function_name)
        if runtime is None:
            return False
        dead_lettered = self.dead_letters.send(record, runtime.function, condition)
        function = runtime.function
        sent = self.destinations.send(
            function.on_failure_destination, record, function.arn(self.dead_letters.region), condition
        )
        if function.on_failure_destination:
            self._destination_told(record, "on-failure", function.on_failure_destination, sent)
        return dead_lettered or sent

    def _on_success(self, record: InvocationRecord) -> None:
        runtime = self.runtime(record.function_name)
        if runtime is not None:
            sent = self.destinations.send(
                runtime.function.on_success_destination,
                record,
                runtime.function.arn(self.dead_letters.region),
                "Success",
            )
            if runtime.function.on_success_destination:
                self._destination_told(record, "on-success", runtime.function.on_success_destination, sent)
                self.records.changed(record)

    def _destination_told(self, record: InvocationRecord, which: str, arn: str, sent: bool) -> None:
        """Where the record went, for the page; a failure to deliver counted as AWS counts it."""
        outcome = "sent to" if sent else "NOT delivered to"
        record.destination = f"{which} record {outcome} {arn}"
        if not sent:
            self._count_metric(record.function_name, "DestinationDeliveryFailures")

    def put_metric(self, function_name: str, name: str, value: float = 1.0) -> None:
        """A CloudWatch metric of the function (``AWS/Lambda``), for what an event source observed
        (a stream mapping's IteratorAge)."""
        self._count_metric(function_name, name, value)

    def dead_lettered(self, function_name: str | None = None, limit: int = 100) -> list[dict]:
        return self.dead_letters.peek(self.runtime_or_fail(function_name).function, limit)

    def redrive(
        self, function_name: str | None = None, message_ids: list[str] | None = None
    ) -> list[InvocationRecord]:
        """Re-submit dead-lettered events as new asynchronous invocations and remove them from the queue."""
        runtime = self.runtime_or_fail(function_name)
        submitted: list[InvocationRecord] = []
        self.dead_letters.take(
            runtime.function,
            message_ids,
            resubmit=lambda event: submitted.append(
                self.invoke_async(event, runtime.name, trigger="redrive")
            ),
        )
        return submitted

    # -- hooks for the Lambda API (api.py) --------------------------------------------------------------
    def knows_function(self, name: str) -> bool:
        return name in self._functions

    def knows_qualifier(self, name: str, qualifier: str | None) -> bool:
        return self._pool(name, qualifier) is not None

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.settings.region}:{ACCOUNT_ID}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def invoke_from_api(
        self,
        name: str,
        event,
        asynchronous: bool,
        client_context: str | None,
        qualifier: str | None = None,
        trace_header: str | None = None,
    ):
        """Lambda's Invoke. A caller's ``X-Amzn-Trace-Id`` (a function calling another, or a traced client)
        is continued: the invocation runs on the caller's trace, one step further down its lineage."""
        reference = f"{name}:{qualifier}" if qualifier else name
        runtime = self.runtime_or_fail(name)
        root = trace_root(trace_header)
        trace_id = new_trace_id(runtime.name, lineage_depth(trace_header) + 1, root=root) if root else None
        if asynchronous:  # AWS passes ClientContext to synchronous invocations only
            return self.invoke_async(event, reference, trigger="invoke", trace_id=trace_id)
        self.runtime_or_fail(reference)
        return self.run(
            self.new_record(
                event,
                reference,
                "invoke",
                trace_id,
                client_context=_decoded_client_context(client_context),
            )
        )

    def invoke_streaming(
        self, name: str, event, client_context: str | None, stream, qualifier: str | None = None
    ) -> InvocationRecord:
        """InvokeWithResponseStream: a synchronous invocation whose streamed bytes go to ``stream`` (which
        keeps the record: its executed version is known once the invocation starts)."""
        reference = f"{name}:{qualifier}" if qualifier else name
        self.runtime_or_fail(reference)
        record = self.new_record(
            event, reference, "invoke", client_context=_decoded_client_context(client_context)
        )
        stream.record = record
        return self.run(record, stream)

    def log_tail(self, request_id: str, limit_bytes: int) -> str:
        text = "".join(e.message + "\n" for e in self.logs.events(request_id=request_id))
        return text.encode()[-limit_bytes:].decode("utf-8", "ignore")

    def configuration_changes(self, request: dict) -> dict:
        """UpdateFunctionConfiguration's fields as FunctionConfiguration's."""
        changes: dict = {}
        for api_name, name in (("MemorySize", "memory_size"), ("Timeout", "timeout"), ("Handler", "handler")):
            if api_name in request:
                changes[name] = request[api_name]
        if "ReservedConcurrentExecutions" in request:
            changes["reserved_concurrency"] = int(request["ReservedConcurrentExecutions"])
        if "Environment" in request:
            changes["environment"] = dict((request["Environment"] or {}).get("Variables") or {})
        if "Layers" in request:
            changes["layers"] = tuple(self._layer_dir(arn) for arn in request["Layers"] or [])
            changes["strict_imports"] = True
        if "DeadLetterConfig" in request:
            changes["dead_letter_queue"] = _queue_name((request["DeadLetterConfig"] or {}).get("TargetArn"))
        return changes

    def update_configuration(
        self, lambda_client, function_name: str | None = None, **changes
    ) -> FunctionConfiguration:
        """Change memory_size, timeout, environment or handler through Lambda's UpdateFunctionConfiguration
        (``lambda_client``: boto3's, against the endpoint), so moto's view and the running function agree.
        The next invocation is a cold start (as on AWS)."""
        from botocore.exceptions import ClientError

        runtime = self.runtime_or_fail(function_name)
        names = {"memory_size": "MemorySize", "timeout": "Timeout", "handler": "Handler"}
        unknown = set(changes) - set(names) - {"environment"}
        if unknown:
            raise ConfigError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
        request = {names[k]: v for k, v in changes.items() if k in names}
        if "environment" in changes:
            request["Environment"] = {"Variables": dict(changes["environment"])}
        self.check_configuration(runtime.name, request)
        try:
            lambda_client.update_function_configuration(FunctionName=runtime.name, **request)
        except ClientError as exc:
            raise ConfigError(
                exc.response.get("message") or exc.response["Error"].get("Message") or str(exc)
            ) from None
        return runtime.function

    def check_configuration(self, name: str, request: dict) -> None:
        function = self.runtime_or_fail(name).function.replace(**self.configuration_changes(request))
        if "Layers" in request and function.layers:
            total = folder_size(function.code_dir) + self._layers_size(function.layers)
            if total >= UNZIPPED_LIMIT_BYTES:
                raise ConfigError(str(too_large_unzipped(total, with_layers=True)))

    def apply_configuration(self, name: str, request: dict) -> None:
        runtime = self.runtime_or_fail(name)
        changes = self.configuration_changes(request)
        if set(changes) <= {"reserved_concurrency"}:  # not a configuration of the environments: they stay
            runtime.function = runtime.function.replace(revision=runtime.function.revision, **changes)
        else:
            runtime.update(runtime.function.replace(**changes))

    def prepare_code(self, name: str, zip_bytes: bytes) -> Path:
        """update-function-code, before moto stores it: the zip unpacked (refused as Lambda would)."""
        runtime = self.runtime_or_fail(name)
        return self._unpack("functions", name, zip_bytes, self._layers_size(runtime.function.layers))

    def apply_code(self, name: str, folder: Path) -> None:
        """update-function-code: the unpacked zip becomes the task root, the previous one is removed;
        imports become strict (as on AWS)."""
        runtime = self.runtime_or_fail(name)
        previous = runtime.function.code_dir
        runtime.update(runtime.function.replace(code_dir=folder, strict_imports=True))
        if Path(previous) != Path(folder):
            self._remove_unpacked(previous)

    def discard_code(self, folder: Path) -> None:
        """A package unpacked for a request moto then refused, unless a function or layer uses it."""
        used = [r.function.code_dir for r in self._all_pools()] + list(self._layers.values())
        if all(Path(path) != Path(folder) for path in used):
            self._remove_unpacked(folder)

    def new_function(self, request: dict) -> FunctionConfiguration | None:
        """create-function through the API: the sandbox's configuration for it (raises ConfigError with
        Lambda's message when a value is out of range), or None when it is not the sandbox's to run."""
        name = request.get("FunctionName", "")
        if not name or self.knows_function(name) or not (request.get("Code") or {}).get("ZipFile"):
            return None
        layers = tuple(self._layer_dir(arn) for arn in request.get("Layers") or [])
        return FunctionConfiguration(
            function_name=name,
            handler=request.get("Handler", DEFAULT_HANDLER),
            code_dir=self._unpack(
                "functions", name, base64.b64decode(request["Code"]["ZipFile"]), self._layers_size(layers)
            ),
            runtime=request.get("Runtime", LAMBDA_RUNTIME),
            memory_size=request.get("MemorySize", DEFAULT_MEMORY_MB),
            timeout=request.get("Timeout", DEFAULT_TIMEOUT_S),
            environment=dict((request.get("Environment") or {}).get("Variables") or {}),
            architecture=(request.get("Architectures") or ["x86_64"])[0],
            layers=layers,
            role_arn=request.get("Role", ""),
            strict_imports=True,
            dead_letter_queue=_queue_name((request.get("DeadLetterConfig") or {}).get("TargetArn")),
        )

    def function_created(self, function: FunctionConfiguration) -> None:
        """The API created it: the function becomes runnable in the sandbox."""
        self.register(function)

    def function_deleted(self, name: str) -> None:
        runtime = self._functions.pop(name, None)
        self._aliases.pop(name, None)
        for version in list(self._versions.get(name, {})):
            self.version_deleted(name, version)
        self._versions.pop(name, None)
        if runtime is not None:
            runtime.shutdown()
            self._remove_unpacked(runtime.function.code_dir)

    # -- versions and aliases (versions.py) -------------------------------------------------------------
    def version_published(self, name: str, version: str) -> FunctionConfiguration | None:
        """publish-version created ``version``: $LATEST's code folder is copied and its configuration kept,
        so later changes to $LATEST leave the version as it was. A version already known is kept."""
        latest = self._functions.get(name)
        if latest is None or version == LATEST:
            return None
        known = self._versions.get(name, {}).get(version)
        if known is not None:
            return known.function
        frozen = freeze_code(
            latest.function.code_dir, self.code_dir / "functions" / name / f"version-{version}"
        )
        function = latest.function.replace(version=version, code_dir=frozen, revision=0)
        self.register(function)
        return function

    def version_deleted(self, name: str, version: str) -> None:
        """delete-function --qualifier <version>: its environments end and its frozen code goes."""
        pool = self._versions.get(name, {}).pop(version, None)
        if pool is not None:
            pool.shutdown()
            self._remove_unpacked(pool.function.code_dir)

    def aliases_of_version(self, name: str, version: str) -> list[str]:
        """The aliases that point at or route to a version (which Lambda will not let be deleted)."""
        return sorted(a.name for a in self._aliases.get(name, {}).values() if version in a.versions())

    def alias(self, name: str, alias_name: str) -> Alias | None:
        return self._aliases.get(name, {}).get(alias_name)

    def alias_changed(self, name: str, alias: Alias) -> None:
        self._aliases.setdefault(name, {})[alias.name] = alias

    def alias_deleted(self, name: str, alias_name: str) -> None:
        self._aliases.get(name, {}).pop(alias_name, None)

    def prepare_layer(self, layer_name: str, zip_bytes: bytes) -> Path:
        """publish-layer-version, before moto stores it: the zip unpacked (refused as Lambda would)."""
        return self._unpack("layers", layer_name, zip_bytes)

    def layer_published(self, folder: Path, response: dict) -> None:
        arn = response.get("LayerVersionArn")
        if arn:
            self._layers[arn] = folder

    def set_recursion(self, name: str, allow: bool) -> None:
        (self._recursion_allowed.add if allow else self._recursion_allowed.discard)(name)

    def recursion_allowed_for(self, name: str) -> bool:
        return name in self._recursion_allowed

    def apply_event_invoke_config(self, name: str, request: dict, replace: bool = False) -> dict:
        """put- (``replace``: what the request leaves out goes back to Lambda's defaults), update- and
        delete-function-event-invoke-config (``replace`` with an empty request): retries, maximum event
        age, on-success and on-failure destinations. Returns the configuration now in effect, as the API
        writes it."""
        runtime = self.runtime_or_fail(name)
        changes: dict = (
            {
                "maximum_retry_attempts": 2,
                "maximum_event_age_s": 21_600,
                "on_success_destination": None,
                "on_failure_destination": None,
            }
            if replace
            else {}
        )
        if "MaximumRetryAttempts" in request:
            changes["maximum_retry_attempts"] = int(request["MaximumRetryAttempts"])
        if "MaximumEventAgeInSeconds" in request:
            changes["maximum_event_age_s"] = int(request["MaximumEventAgeInSeconds"])
        for key, field_name in (
            ("OnSuccess", "on_success_destination"),
            ("OnFailure", "on_failure_destination"),
        ):
            destination = ((request.get("DestinationConfig") or {}).get(key) or {}).get("Destination")
            if destination:
                problem = destination_problem(destination, on_failure=key == "OnFailure")
                if problem:
                    raise ConfigError(problem)
            if destination is not None or (replace and "DestinationConfig" in request):
                changes[field_name] = destination or None
        # Not a code or configuration change: warm environments stay.
        function = runtime.function = runtime.function.replace(revision=runtime.function.revision, **changes)
        targets = (
            ("OnSuccess", function.on_success_destination),
            ("OnFailure", function.on_failure_destination),
        )
        destinations = {key: {"Destination": arn} for key, arn in targets if arn}
        return {
            "MaximumRetryAttempts": function.maximum_retry_attempts,
            "MaximumEventAgeInSeconds": function.maximum_event_age_s,
            "DestinationConfig": destinations,
        }

    # -- event source mappings (run by the polled event sources) ----------------------------------------
    def add_mapping_runner(self, runner) -> None:
        """A polled event source runs the mappings whose EventSourceArn it ``accepts``."""
        self._mapping_runners.append(runner)

    def _runner_for(self, arn: str):
        return next((r for r in self._mapping_runners if r.accepts(arn)), None)

    def check_mapping(self, request: dict) -> str | None:
        """Lambda's validation of create-event-source-mapping, before moto stores anything."""
        arn = request.get("EventSourceArn") or ""
        runner = self._runner_for(arn)
        if runner is None:
            return (
                None  # a source the sandbox does not run (Kinesis, Kafka, MQ): moto keeps it, nothing polls
            )
        name = request.get("FunctionName") or ""
        runtime = self.runtime(reference_from(name))
        if runtime is None:
            return f"Function not found: {name}"
        return validate_filters(request) or runner.validate(request, runtime.function)

    def mapping_changed(self, data: dict) -> None:
        if not data.get("UUID") or not data.get("EventSourceArn"):
            return
        runner = self._runner_for(data["EventSourceArn"])
        if runner is None:
            return
        mapping = MappingConfig.from_api(data, reference_from(data.get("FunctionArn", "")))
        self._mappings[mapping.uuid] = mapping
        runner.apply(mapping)

    def mapping_deleted(self, uuid: str) -> None:
        mapping = self._mappings.pop(uuid, None)
        runner = mapping and self._runner_for(mapping.event_source_arn)
        if runner is not None:
            runner.remove(uuid)

    def mappings(self) -> list[MappingConfig]:
        return list(self._mappings.values())

    # -- code and layers on disk ---------------------------------------------------------------------
    def layer_folder(self, arn: str) -> Path:
        """Where a layer version published through the API is unpacked (its ``/opt``), for a function the
        sandbox runs from a folder with that layer (a template's, sandbox/sam/)."""
        return self._layer_dir(arn)

    def _layer_dir(self, arn: str) -> Path:
        if arn not in self._layers:
            raise ConfigError(
                f"Layer version {arn} does not exist in this sandbox; publish it first "
                f"(aws lambda publish-layer-version)."
            )
        return self._layers[arn]

    def _unpack(self, kind: str, name: str, zip_bytes: bytes, layers_bytes: int = 0) -> Path:
        """The zip unpacked under the code directory (a folder per content), or LambdaApiError with
        Lambda's InvalidParameterValueException when Lambda would refuse it."""
        folder = self.code_dir / kind / name / hashlib.sha256(zip_bytes).hexdigest()[:12]
        if not self._holds(folder, kind):  # names are validated before: this is the last line of defence
            raise LambdaApiError(400, "InvalidParameterValueException", f"Invalid name: {name}.")
        if folder.exists():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            return unpack_reusing(zip_bytes, folder, layers_bytes)
        except PackageRefused as exc:
            with contextlib.suppress(OSError):
                folder.parent.rmdir()  # the name's folder, unless it holds another package
            raise LambdaApiError(400, "InvalidParameterValueException", str(exc)) from None

    def _holds(self, folder: Path, kind: str) -> bool:
        """Is ``folder`` one of the code directory's own package folders (``<kind>/<name>/<hash>``)?"""
        root = (self.code_dir / kind).resolve()
        resolved = Path(folder).resolve()
        return resolved.parent.parent == root and resolved.is_relative_to(root)

    def _remove_unpacked(self, folder: Path) -> None:
        """Remove a package folder the service unpacked (never a folder a function runs from in place),
        and its name's folder once empty."""
        if not (self._holds(folder, "functions") or self._holds(folder, "layers")):
            return
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            Path(folder).parent.rmdir()

    def _layers_size(self, layers) -> int:
        return sum(folder_size(folder) for folder in layers)


def _decoded_client_context(value: str | None) -> str | None:
    """X-Amz-Client-Context is base64 of JSON; the runtime gets the JSON (Lambda-Runtime-Client-Context).
    Text that is not base64 is passed on as it came: the runtime then fails that invocation, not the
    environment."""
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except ValueError:
        return value


def _queue_name(target_arn: str | None) -> str | None:
    """``arn:aws:sqs:us-east-1:123456789012:name`` -> ``name``; other targets (SNS) are not run here."""
    target = target_arn or ""
    return target.split(":")[-1] if target.startswith("arn:aws:sqs:") else None
