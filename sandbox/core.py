"""The Sandbox: one object that composes the local endpoint, the S3 trigger, the function runtimes and
the logs. Built in one place (``Sandbox(config, function)``) and passed to the CLI, the page and the
notebooks, which are thin views over it.

    with Sandbox(SandboxConfig(port=0, web_port=None)) as sb:
        sb.s3.upload_file("sample_images/test.jpg", sb.config.source_bucket, "test.jpg")
        record = sb.wait_for_key("test.jpg")
        print(record.status, record.duration_ms)
"""
from __future__ import annotations

import base64
import io
import json
import queue
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig

from . import cloudwatch_logs as cw
from .async_invoke import AsyncInvoker
from .config import ACCOUNT_ID, FunctionConfiguration, SandboxConfig
from .endpoint import LocalEndpoint
from .endpoint_access import AccessPolicy
from .errors import ConfigError, SandboxError
from .env_vars import runtime_packages_dir
from .execution_environment import EnvironmentSettings
from .function_runtime import FunctionRuntime
from .invocation import InvocationLog, InvocationRecord, new_request_id
from .lambda_api import LambdaApiInterceptor
from .metrics import LambdaMetrics
from .notifications import BucketNotifications
from .packaging import function_zip_bytes
from .pricing import CostSummary
from .s3_events import S3Write, build_event
from .s3_write_observer import S3WriteObserver

# Dummy credentials for the local endpoint (moto accepts any). Users paste the same into their shell.
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
TRIGGER_ID = "ImageResizeTrigger"
GUIDE_MANAGED_POLICIES = ("AmazonS3FullAccess", "AWSLambdaBasicExecutionRole")
GUIDE_MANAGED_POLICY_ARNS = ("arn:aws:iam::aws:policy/AmazonS3FullAccess",
                             "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
# AWS's own runtime client, run against the sandbox's Runtime API instead of the built-in bootstrap.
AWSLAMBDARIC_COMMAND = ("{python}", "-u", "-m", "awslambdaric", "{handler}")
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}


class Sandbox:
    def __init__(self, config: SandboxConfig | None = None, function: FunctionConfiguration | None = None):
        self.config = config or SandboxConfig()
        self.config.validate()
        function = function or FunctionConfiguration()
        if function.dead_letter_queue is None:  # the sandbox's function has a DLQ, readable with SQS
            function = function.replace(dead_letter_queue=f"{function.function_name}-dlq",
                                        revision=function.revision)
        if not Path(function.code_dir).is_dir():
            raise ConfigError(f"Code directory {function.code_dir} does not exist; point --code-dir at the "
                              f"folder that holds your lambda_function.py.")
        self.records = InvocationLog()
        self.cost = CostSummary()
        # Who may use the endpoint (origins, Host names, the network token); the page adds its origin.
        self.access = AccessPolicy(bind_host=self.config.host, allowed_origins=set(self.config.allowed_origins),
                                   access_token=self.config.access_token)
        self._functions: dict[str, FunctionRuntime] = {}
        self._initial_function = function
        self._writes: "queue.Queue[S3Write | None]" = queue.Queue()
        self._started = False
        self._stop_event = threading.Event()
        self.endpoint: LocalEndpoint | None = None
        self.logs: cw.CloudWatchLogs | None = None
        self.invoker: AsyncInvoker | None = None
        self.notifications: BucketNotifications | None = None
        self.started_at: float | None = None
        self.records.subscribe(self._on_record_change)
        self.recursion_allowed: set[str] = set()  # functions with PutFunctionRecursionConfig Allow

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> "Sandbox":
        started = time.perf_counter()
        self.state_dir = Path(tempfile.mkdtemp(prefix="lambda-sandbox-"))
        self._layers: dict[str, Path] = {}
        self.endpoint = LocalEndpoint(self.config.host, self.config.port, access=self.access,
                                      service_middleware={"s3": self._observe_s3,
                                                          "awslambda": lambda app: LambdaApiInterceptor(app, self)},
                                      routes={"/_sandbox/": self._api_app()})
        self.endpoint.start()
        self.endpoint.load_aws_managed_policies(GUIDE_MANAGED_POLICIES)
        # The sandbox's own writers skip boto3's parameter validation: they build valid requests, and
        # validating thousands of log events per batch costs the CPU the invocations need.
        self.logs = cw.CloudWatchLogs(self.client("logs", validate=False))
        self.metrics = LambdaMetrics(self.client("cloudwatch", validate=False))
        self.notifications = BucketNotifications(
            lambda bucket: self.s3.get_bucket_notification_configuration(Bucket=bucket))
        self.settings = EnvironmentSettings(endpoint_url=self.endpoint_url, region=self.config.region,
                                            python=self.config.python or sys.executable,
                                            init_timeout_s=self.config.init_timeout_s,
                                            bootstrap_command=AWSLAMBDARIC_COMMAND
                                            if self.config.runtime_client == "awslambdaric" else None,
                                            runtime_packages=str(runtime_packages_dir(self.state_dir / "runtime")))
        self.invoker = AsyncInvoker(self.runtime, self.records, on_failure=self._dead_letter,
                                    retry_delay_scale=self.config.retry_delay_scale / 60.0,
                                    workers=max(10, self._initial_function.reserved_concurrency))
        self._router = threading.Thread(target=self._route_writes, name="s3-event-router", daemon=True)
        self._router.start()
        self._janitor = threading.Thread(target=self._reap_idle, name="idle-environments", daemon=True)
        self._janitor.start()
        self._create_guide_resources(self._initial_function)
        self.code_watcher = None
        if self.config.hot_reload:
            from .hot_reload import CodeWatcher

            self.code_watcher = CodeWatcher(self, report=self._report).start()
        self._started = True
        self.started_at = time.time()
        self.startup_seconds = time.perf_counter() - started  # shown by the walkthrough notebook
        return self

    def stop(self) -> None:
        if not self._started:
            if self.endpoint is not None:
                self.endpoint.stop()
            return
        self._started = False
        self._stop_event.set()
        self._writes.put(None)
        if getattr(self, "code_watcher", None) is not None:
            self.code_watcher.stop()
        if self.invoker:
            self.invoker.halt()
        for runtime in list(self._functions.values()):
            runtime.shutdown()  # kills busy workers too, so in-flight invocations end at once
        if self.invoker:
            self.invoker.stop()
        if self.logs:
            self.logs.close()
        if getattr(self, "metrics", None) is not None:
            self.metrics.close()
        if self.endpoint:
            self.endpoint.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- clients -------------------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        return self.endpoint.url

    def client(self, service: str, validate: bool = True):
        """A boto3 client for the local endpoint, as a user's code would make one."""
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.config.region,
                            config=BotoConfig(retries={"max_attempts": 2, "mode": "standard"},
                                              parameter_validation=validate),
                            **LOCAL_CREDENTIALS)

    @property
    def s3(self):
        if not hasattr(self, "_s3"):
            self._s3 = self.client("s3")
        return self._s3

    def client_environment(self) -> dict[str, str]:
        """The lines a user pastes so the AWS CLI and boto3 use the local endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": self.config.region,
        }

    # -- the guide's resources -----------------------------------------------------------------------
    def _create_guide_resources(self, function: FunctionConfiguration) -> None:
        """Steps 1-4 of the guide, done for the learner: buckets, role, function, trigger."""
        cfg = self.config
        s3 = self.s3
        for bucket in (cfg.source_bucket, cfg.destination_bucket):
            s3.create_bucket(Bucket=bucket)
        # Step 1: the role, as the guide makes it (its two AWS-managed policies; `run_local.py deploy
        # --least-privilege` shows the narrower inline policy).
        iam = self.client("iam")
        role_name = function.role_arn.rsplit("/", 1)[-1]
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))
        for policy in GUIDE_MANAGED_POLICY_ARNS:
            iam.attach_role_policy(RoleName=role_name, PolicyArn=policy)
        self.sqs = self.client("sqs")
        self.sqs.create_queue(QueueName=function.dlq_name)
        self.register_function(function, create_in_api=True)
        lam = self.client("lambda")
        lam.put_function_concurrency(FunctionName=function.function_name,
                                     ReservedConcurrentExecutions=function.reserved_concurrency)
        lam.add_permission(FunctionName=function.function_name, StatementId="s3-invoke",
                           Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                           SourceArn=f"arn:aws:s3:::{cfg.source_bucket}", SourceAccount=ACCOUNT_ID)
        s3.put_bucket_notification_configuration(Bucket=cfg.source_bucket, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{
                "Id": TRIGGER_ID,
                "LambdaFunctionArn": function.arn(cfg.region),
                "Events": ["s3:ObjectCreated:*"],
            }]})

    def register_function(self, function: FunctionConfiguration, create_in_api: bool = False) -> FunctionRuntime:
        """Make a function runnable in the sandbox (and, optionally, known to the Lambda API)."""
        runtime = FunctionRuntime(function, self.logs, self.settings)
        runtime.on_capacity.append(lambda: self.invoker.capacity_available(function.function_name))
        self._functions[function.function_name] = runtime
        if create_in_api:  # so get-function-configuration and the console-like views tell the truth
            lam = self.client("lambda")
            lam.create_function(
                FunctionName=function.function_name, Runtime=function.runtime, Role=function.role_arn,
                Handler=function.handler, Code={"ZipFile": function_zip_bytes(function.code_dir)},
                MemorySize=function.memory_size, Timeout=function.timeout,
                Environment={"Variables": dict(function.environment)},
                Architectures=[function.architecture],
                **({"DeadLetterConfig": {"TargetArn": f"arn:aws:sqs:{self.config.region}:{ACCOUNT_ID}:"
                                                      f"{function.dlq_name}"}} if function.dlq_name else {}))
        return runtime

    # -- functions -----------------------------------------------------------------------------------
    def runtime(self, function_name: str) -> FunctionRuntime | None:
        return self._functions.get(function_name)

    @property
    def function(self) -> FunctionConfiguration:
        return self._functions[self._initial_function.function_name].function

    def functions(self) -> list[FunctionConfiguration]:
        return [r.function for r in self._functions.values()]

    def update_function_configuration(self, function_name: str | None = None, **changes) -> FunctionConfiguration:
        """Change memory_size, timeout, environment or handler, as the console's Configuration tab does:
        through Lambda's UpdateFunctionConfiguration, so moto's view and the running function agree. The
        next invocation is a cold start (as on AWS)."""
        from botocore.exceptions import ClientError

        runtime = self._runtime_or_fail(function_name)
        names = {"memory_size": "MemorySize", "timeout": "Timeout", "handler": "Handler"}
        request = {names[k]: v for k, v in changes.items() if k in names}
        if "environment" in changes:
            request["Environment"] = {"Variables": dict(changes["environment"])}
        unknown = set(changes) - set(names) - {"environment"}
        if unknown:
            raise ConfigError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
        self.check_configuration(runtime.name, request)
        try:
            self.client("lambda").update_function_configuration(FunctionName=runtime.name, **request)
        except ClientError as exc:
            raise ConfigError(exc.response.get("message") or exc.response["Error"].get("Message") or str(exc)) from None
        return runtime.function

    # -- hooks for the Lambda API (sandbox/lambda_api.py) ---------------------------------------------
    def knows_function(self, name: str) -> bool:
        return name in self._functions

    def invoke_from_api(self, name: str, event, asynchronous: bool, client_context: str | None):
        if asynchronous:
            return self.invoke_async(event, name, trigger="invoke")
        return self.invoke(event, name, trigger="invoke")

    def log_tail(self, request_id: str, limit_bytes: int) -> str:
        text = "".join(e.message + "\n" for e in self.logs.events(request_id=request_id))
        return text.encode()[-limit_bytes:].decode("utf-8", "ignore")

    def _configuration_changes(self, name: str, request: dict) -> dict:
        changes: dict = {}
        if "MemorySize" in request:
            changes["memory_size"] = request["MemorySize"]
        if "Timeout" in request:
            changes["timeout"] = request["Timeout"]
        if "Handler" in request:
            changes["handler"] = request["Handler"]
        if "ReservedConcurrentExecutions" in request:
            changes["reserved_concurrency"] = int(request["ReservedConcurrentExecutions"])
        if "Environment" in request:
            changes["environment"] = dict((request["Environment"] or {}).get("Variables") or {})
        if "Layers" in request:
            changes["layers"] = tuple(self._layer_dir(arn) for arn in request["Layers"] or [])
            changes["strict_imports"] = True
        if "DeadLetterConfig" in request:
            target = (request["DeadLetterConfig"] or {}).get("TargetArn") or ""
            changes["dead_letter_queue"] = target.split(":")[-1] if target.startswith("arn:aws:sqs:") else None
        return changes

    def _layer_dir(self, arn: str) -> Path:
        if arn not in self._layers:
            raise ConfigError(f"Layer version {arn} does not exist in this sandbox; publish it first "
                              f"(aws lambda publish-layer-version).")
        return self._layers[arn]

    def check_configuration(self, name: str, request: dict) -> None:
        self._runtime_or_fail(name).function.replace(**self._configuration_changes(name, request))

    def apply_configuration(self, name: str, request: dict) -> None:
        runtime = self._runtime_or_fail(name)
        changes = self._configuration_changes(name, request)
        if set(changes) <= {"reserved_concurrency"}:  # not a configuration of the environments: they stay
            runtime.function = runtime.function.replace(revision=runtime.function.revision, **changes)
        else:
            runtime.update(runtime.function.replace(**changes))

    def _unpack(self, kind: str, name: str, zip_bytes: bytes) -> Path:
        import hashlib

        folder = self.state_dir / kind / name / hashlib.sha256(zip_bytes).hexdigest()[:12]
        if not folder.exists():
            with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
                archive.extractall(folder)
        return folder

    def apply_code(self, name: str, zip_bytes: bytes) -> None:
        """update-function-code: the zip becomes the task root; imports become strict (as on AWS)."""
        runtime = self._runtime_or_fail(name)
        folder = self._unpack("functions", name, zip_bytes)
        runtime.update(runtime.function.replace(code_dir=folder, strict_imports=True))

    def new_function(self, request: dict) -> FunctionConfiguration | None:
        """create-function through the API: the sandbox's configuration for it (raises ConfigError with
        Lambda's message when a value is out of range), or None when it is not the sandbox's to run."""
        name = request.get("FunctionName", "")
        if not name or self.knows_function(name) or not (request.get("Code") or {}).get("ZipFile"):
            return None
        target = (request.get("DeadLetterConfig") or {}).get("TargetArn") or ""
        return FunctionConfiguration(
            function_name=name, handler=request.get("Handler", "lambda_function.lambda_handler"),
            code_dir=self._unpack("functions", name, base64.b64decode(request["Code"]["ZipFile"])),
            runtime=request.get("Runtime", "python3.12"), memory_size=request.get("MemorySize", 128),
            timeout=request.get("Timeout", 3),
            environment=dict((request.get("Environment") or {}).get("Variables") or {}),
            architecture=(request.get("Architectures") or ["x86_64"])[0],
            layers=tuple(self._layer_dir(arn) for arn in request.get("Layers") or []),
            role_arn=request.get("Role", ""), strict_imports=True,
            dead_letter_queue=target.split(":")[-1] if target.startswith("arn:aws:sqs:") else None)

    def function_created(self, function: FunctionConfiguration) -> None:
        """The API created it: the function becomes runnable in the sandbox."""
        self.register_function(function)

    def layer_published(self, zip_bytes: bytes, response: dict) -> None:
        arn = response.get("LayerVersionArn")
        if arn:
            self._layers[arn] = self._unpack("layers", arn.split(":")[-2] + "-" + arn.split(":")[-1], zip_bytes)

    def set_recursion(self, name: str, allow: bool) -> None:
        (self.recursion_allowed.add if allow else self.recursion_allowed.discard)(name)

    def recursion_allowed_for(self, name: str) -> bool:
        return name in self.recursion_allowed

    def apply_event_invoke_config(self, name: str, request: dict) -> None:
        """put-function-event-invoke-config: retries, maximum event age, on-failure destination."""
        runtime = self._runtime_or_fail(name)
        changes: dict = {}
        if "MaximumRetryAttempts" in request:
            changes["maximum_retry_attempts"] = int(request["MaximumRetryAttempts"])
        if "MaximumEventAgeInSeconds" in request:
            changes["maximum_event_age_s"] = int(request["MaximumEventAgeInSeconds"])
        destination = ((request.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if destination is not None:
            changes["on_failure_destination"] = destination or None
        # Not a code or configuration change: warm environments stay.
        runtime.function = runtime.function.replace(revision=runtime.function.revision, **changes)

    def function_deleted(self, name: str) -> None:
        runtime = self._functions.pop(name, None)
        if runtime is not None:
            runtime.shutdown()

    def retire_environments(self, function_name: str | None = None) -> None:
        """Code changed on disk: the next invocation starts cold with the new code."""
        runtime = self._runtime_or_fail(function_name)
        runtime.update(runtime.function.replace())

    def _runtime_or_fail(self, function_name: str | None) -> FunctionRuntime:
        name = function_name or self._initial_function.function_name
        runtime = self._functions.get(name)
        if runtime is None:
            raise SandboxError(f"Function not found: {name}.")
        return runtime

    def invoke(self, event: dict, function_name: str | None = None, trigger: str = "invoke",
               trace_id: str | None = None) -> InvocationRecord:
        """A synchronous invocation (RequestResponse), in the caller's thread."""
        runtime = self._runtime_or_fail(function_name)
        record = InvocationRecord(request_id=new_request_id(), function_name=runtime.name, event=event,
                                  invocation_type="RequestResponse", trigger=trigger,
                                  trace_id=trace_id or new_trace_id(runtime.name, 1))
        self.records.add(record)
        record.status = "running"
        runtime.invoke(record, json.dumps(event).encode())
        record.responded_at = time.time()
        record.final = True
        self.records.changed(record)
        return record

    def invoke_async(self, event: dict, function_name: str | None = None, trigger: str = "invoke",
                     trace_id: str | None = None) -> InvocationRecord:
        runtime = self._runtime_or_fail(function_name)
        record = InvocationRecord(request_id=new_request_id(), function_name=runtime.name, event=event,
                                  trigger=trigger, trace_id=trace_id or new_trace_id(runtime.name, 1))
        return self.invoker.submit(record)

    # -- S3 trigger ----------------------------------------------------------------------------------
    def _observe_s3(self, app):
        return S3WriteObserver(app, on_write=self._writes.put,
                               object_facts=self.endpoint.object_facts,
                               on_notification_change=lambda bucket: self.notifications.invalidate(bucket))

    def _route_writes(self) -> None:
        while True:
            write = self._writes.get()
            if write is None:
                return
            try:
                for target in self.notifications.targets_for(write):
                    if self.runtime(target.function_name) is None:
                        continue  # AWS would have refused a configuration naming an unknown function
                    event = build_event(write, target.configuration_id, self.config.region)
                    depth = lineage_depth(write.trace_header) + 1
                    record = InvocationRecord(request_id=new_request_id(), function_name=target.function_name,
                                              event=event, trigger="s3", detected_at=write.event_time,
                                              trace_id=new_trace_id(target.function_name, depth))
                    if depth > RECURSION_LIMIT and target.function_name not in self.recursion_allowed:
                        self._drop_recursive(record, depth)
                        continue
                    self.invoker.submit(record)
            except Exception as exc:  # the router must survive anything
                print(f"sandbox: could not deliver the S3 event for {write.key!r}: {exc}", file=sys.stderr)

    # -- failures ------------------------------------------------------------------------------------
    def _dead_letter(self, record: InvocationRecord, condition: str) -> bool:
        """An event that failed every attempt (or grew too old, or looped) goes to the function's
        dead-letter queue (SQS; the original event with AWS's RequestID, ErrorCode and ErrorMessage
        attributes) and, when configured, to its on-failure destination (AWS's invocation record)."""
        runtime = self.runtime(record.function_name)
        if runtime is None:
            return False
        function = runtime.function
        delivered = False
        try:
            if not function.dlq_name:
                raise LookupError("no dead-letter queue")
            queue_url = self.sqs.get_queue_url(QueueName=function.dlq_name)["QueueUrl"]
            self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record.event), MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": record.request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String",
                                 "StringValue": (record.error_message or condition)[:1000]},
            })
            delivered = True
        except LookupError:
            pass  # no DeadLetterConfig: AWS discards the event (the page and the logs still show it)
        except Exception as exc:
            self.metrics.put(record.function_name, "DeadLetterErrors")
            self._report(f"sandbox: could not dead-letter {record.request_id}: {exc}")
        if function.on_failure_destination:
            try:
                queue_url = self.sqs.get_queue_url(QueueName=function.on_failure_destination.split(":")[-1])["QueueUrl"]
                self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(
                    invocation_record(record, function.arn(self.config.region), condition)))
                delivered = True
            except Exception as exc:
                self._report(f"sandbox: could not send {record.request_id} to its on-failure destination: {exc}")
        return delivered

    def _drop_recursive(self, record: InvocationRecord, depth: int) -> None:
        """Recursive loop detection: about 16 invocations in one chain, the next is dropped."""
        record.status = "dropped"
        record.final = True
        record.error_type = "RecursiveInvocationException"
        record.error_message = (f"Lambda has detected that {record.function_name} is part of a recursive loop "
                                f"(invocation {depth} of one chain of S3 writes) and stopped this invocation. "
                                f"The event was sent to the dead-letter queue.")
        self.records.add(record)
        self.metrics.put(record.function_name, "RecursiveInvocationsDropped")
        group = cw.log_group_name(record.function_name)
        self.logs.put(group, "$sandbox/recursive-loop-detection", record.error_message, record.request_id)
        self._dead_letter(record, "RecursiveInvocationException")

    def _dlq_url(self, function_name: str | None = None) -> str:
        runtime = self._runtime_or_fail(function_name)
        if not runtime.function.dlq_name:
            raise SandboxError(f"{runtime.name} has no dead-letter queue (DeadLetterConfig); failed events "
                               f"are discarded, as on AWS.")
        return self.sqs.get_queue_url(QueueName=runtime.function.dlq_name)["QueueUrl"]

    def dead_letters(self, function_name: str | None = None, limit: int = 100) -> list[dict]:
        """The events waiting in the dead-letter queue (peeked: they stay in the queue)."""
        url = self._dlq_url(function_name)
        found: dict[str, dict] = {}
        for _ in range(max(1, limit // 10)):
            batch = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                             MessageAttributeNames=["All"]).get("Messages", [])
            new = [m for m in batch if m["MessageId"] not in found]
            if not new:
                break
            for message in new:
                attributes = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
                try:
                    event = json.loads(message["Body"])
                except ValueError:
                    event = message["Body"]
                found[message["MessageId"]] = {
                    "message_id": message["MessageId"], "request_id": attributes.get("RequestID"),
                    "error_code": attributes.get("ErrorCode"), "error_message": attributes.get("ErrorMessage"),
                    "event": event}
        return list(found.values())[:limit]

    def redrive(self, function_name: str | None = None, message_ids: list[str] | None = None) -> list[InvocationRecord]:
        """Re-submit dead-lettered events as new asynchronous invocations and remove them from the queue."""
        runtime = self._runtime_or_fail(function_name)
        url = self._dlq_url(function_name)
        submitted = []
        for _ in range(100):
            batch = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30
                                             ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                if message_ids is not None and message["MessageId"] not in message_ids:
                    self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                                       VisibilityTimeout=0)
                    continue
                try:
                    event = json.loads(message["Body"])
                except ValueError:
                    event = {"body": message["Body"]}
                submitted.append(self.invoke_async(event, runtime.name, trigger="redrive"))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if message_ids is not None and len(submitted) >= len(message_ids):
                break
        return submitted

    # -- reading -------------------------------------------------------------------------------------
    def _on_record_change(self, record: InvocationRecord) -> None:
        """Each attempt is billed and counted once, when it has run."""
        if record.status == "throttled":
            self.metrics.put(record.function_name, "Throttles")
            return
        if record.billed_duration_ms is None or getattr(record, "_accounted", False) or not record.finished:
            return
        record._accounted = True
        runtime = self.runtime(record.function_name)
        self.cost.add(record.billed_duration_ms, record.memory_size_mb or 128,
                      runtime.function.architecture if runtime else "x86_64")
        name = record.function_name
        self.metrics.put(name, "Invocations")
        self.metrics.put(name, "Duration", record.duration_ms or 0.0)
        if record.status != "success":
            self.metrics.put(name, "Errors")
        if runtime is not None:
            self.metrics.put(name, "ConcurrentExecutions", max(1, runtime.concurrent_executions))

    def _report(self, message: str) -> None:
        """A line for the person at the terminal (the CLI prints it; tests and notebooks ignore it)."""
        if self.config.terminal_logs:
            print(message, flush=True)

    def invocations(self) -> list[InvocationRecord]:
        """Every invocation attempt of the session, newest first."""
        return list(reversed(self.records.all()))

    def wait_for_key(self, key: str, timeout: float = 30.0, bucket: str | None = None) -> InvocationRecord | None:
        """Wait until the invocation for an uploaded key has finished (success, or a final failure)."""
        bucket = bucket or self.config.source_bucket

        def done(record: InvocationRecord) -> bool:
            return record.final and record.s3_object == (bucket, key) and record.attempt == max(
                (r.attempt for r in self.records.all() if r.request_id == record.request_id), default=1)
        return self.records.wait_for(done, timeout)

    def log_events(self, **filters) -> list[cw.LogEvent]:
        return self.logs.events(**filters)

    def _reap_idle(self) -> None:
        while not self._stop_event.wait(1.0):
            for runtime in list(self._functions.values()):
                runtime.reap_idle(self.config.idle_timeout_s)

    # -- the sandbox's own small HTTP API (/_sandbox/...), for `run_local.py upload` and friends ----
    def _api_app(self):
        from werkzeug.wrappers import Request, Response

        sandbox = self

        def app(environ, start_response):
            request = Request(environ)
            path = request.path
            if path == "/_sandbox/health":
                body = {"status": "ready" if sandbox._started else "starting",
                        "functions": [f.function_name for f in sandbox.functions()]}
            elif path == "/_sandbox/invocations":
                key = request.args.get("key")
                items = []
                for record in sandbox.invocations():
                    if key is None or (record.s3_object or (None, None))[1] == key:
                        items.append(record.as_dict())
                body = {"invocations": items}
            elif path == "/_sandbox/redrive" and request.method == "POST":
                records = sandbox.redrive(request.args.get("function"))
                body = {"redriven": [{"request_id": r.request_id, "key": (r.s3_object or (None, None))[1]}
                                     for r in records]}
            else:
                body = {"error": f"unknown path {path}"}
                response = Response(json.dumps(body), status=404, mimetype="application/json")
                return response(environ, start_response)
            response = Response(json.dumps(body, default=str), mimetype="application/json")
            return response(environ, start_response)
        return app


# Recursive loop detection. AWS counts the invocations of one chain through the X-Ray trace header
# (botocore copies _X_AMZN_TRACE_ID into X-Amzn-Trace-Id on every request a function makes) and stops the
# chain after about 16. The sandbox carries the count as "Lineage=<function hash>:<count>" in that header;
# AWS's exact encoding is not public.
RECURSION_LIMIT = 16


def lineage_depth(trace_header: str | None) -> int:
    """How many invocations of a chain came before the write that carried this trace header."""
    for part in (trace_header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "Lineage":
            try:
                return int(value.rsplit(":", 1)[-1])
            except ValueError:
                return 0
    return 0


def new_trace_id(function_name: str, depth: int) -> str:
    """The trace header the runtime hands the function (Lambda-Runtime-Trace-Id), with its lineage."""
    import hashlib
    import os

    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    lineage = hashlib.sha256(function_name.encode()).hexdigest()[:8]
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled=0;Lineage={lineage}:{depth}"


def invocation_record(record: InvocationRecord, function_arn: str, condition: str) -> dict:
    """What AWS sends to an on-failure destination: the request, the response and why it failed."""
    from datetime import datetime, timezone

    return {
        "version": "1.0",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {"requestId": record.request_id, "functionArn": f"{function_arn}:$LATEST",
                           "condition": condition, "approximateInvokeCount": record.attempt},
        "requestPayload": record.event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": record.result,
    }
