"""`run_local.py deploy` and `run_local.py destroy`: the guide's four steps, done with boto3.

The same code deploys to the running sandbox (a rehearsal: nothing leaves the machine) and to AWS:

    Step 1/4  IAM role ImageResizeLambdaRole   trust lambda.amazonaws.com; the guide's two managed policies
                                               (or --least-privilege: one inline policy)
    Step 2/4  Lambda function ImageResizeLambda  python3.12, lambda_function.lambda_handler, from build/function.zip
    Step 3/4  Layer pillow-layer               a layer version from the Pillow zip, attached to the function
    Step 4/4  S3 trigger                       buckets, the invoke permission for s3.amazonaws.com, the
                                               bucket notification s3:ObjectCreated:* -> function

Running it again updates what exists instead of failing. ``destroy`` removes it all again, in reverse order.

The Python API (tests, notebooks)::

    from sandbox.deploy import DeployOptions, deploy, destroy
    report = deploy(sandbox, DeployOptions(function_name="Rehearsal", role_name="RehearsalRole"))
    destroy(sandbox, DeployOptions(function_name="Rehearsal", role_name="RehearsalRole"))

``deploy`` takes a boto3 ``Session``, a ``Sandbox`` (anything with ``client(service)``), a mapping of
service name -> client, or a function ``service -> client``.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .config import (ACCOUNT_ID, parse_env_pairs, DEFAULT_HANDLER, DESTINATION_BUCKET, FUNCTION_NAME, LAMBDA_RUNTIME,
                     MAX_MEMORY_MB, MAX_TIMEOUT_S, MIN_MEMORY_MB, MIN_TIMEOUT_S, PROJECT_ROOT, ROLE_NAME,
                     SOURCE_BUCKET)
from .errors import ConfigError, SandboxError

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
LAYER_NAME = "pillow-layer"
INLINE_POLICY_NAME = "ImageResizeLeastPrivilege"
# The guide attaches these two AWS managed policies to the role.
GUIDE_MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonS3FullAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
)
TRIGGER_EVENTS = ["s3:ObjectCreated:*"]  # the console's "PUT (All object create events)"
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}
STEPS = 4
# Keys PutBucketNotificationConfiguration accepts (GetBucketNotificationConfiguration may return more).
_NOTIFICATION_KEYS = ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations",
                      "EventBridgeConfiguration")
_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
                  "UnauthorizedException"}
_BAD_CREDENTIALS = {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
                    "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidSignatureException", "RequestExpired"}


class DeployError(SandboxError):
    """A deploy or destroy could not go on; the message is one sentence for the user."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


def least_privilege_policy(source_bucket: str, destination_bucket: str, region: str, account: str,
                           function_name: str) -> dict:
    """The inline policy of --least-privilege: read the source, write the destination, write its own logs.

    The guide's AmazonS3FullAccess lets the function read, overwrite and delete every object of every
    bucket in the account; this is all the handler needs. The log statements are the ones the console
    puts in the role it creates for a new function (its own log group only)."""
    log_group = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function_name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadSource", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{source_bucket}/*"},
            {"Sid": "WriteDestination", "Effect": "Allow", "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{destination_bucket}/*"},
            {"Sid": "CreateLogGroup", "Effect": "Allow", "Action": "logs:CreateLogGroup",
             "Resource": f"arn:aws:logs:{region}:{account}:*"},
            {"Sid": "WriteLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"{log_group}:*"},
        ],
    }


# ------------------------------------------------------------------------------------------- options

@dataclass
class DeployOptions:
    """What to deploy (or destroy). Defaults are the guide's names and the console's defaults."""

    function_name: str = FUNCTION_NAME
    role_name: str = ROLE_NAME
    layer_name: str = LAYER_NAME
    source_bucket: str = SOURCE_BUCKET
    destination_bucket: str = DESTINATION_BUCKET
    memory: int = 128  # MB, the console's default
    timeout: int = 3  # seconds, the console's default
    architecture: str = "x86_64"
    handler: str = DEFAULT_HANDLER
    environment: dict = field(default_factory=dict)  # besides DESTINATION_BUCKET, which deploy sets
    least_privilege: bool = False
    use_layer: bool = True  # False: --no-layer, to rehearse the guide's most common mistake
    code_dir: Path = PROJECT_ROOT / "handler"
    build_dir: Path = PROJECT_ROOT / "build"
    function_zip: Path | None = None  # None: <build_dir>/function.zip, rebuilt from code_dir when stale
    layer_zip: Path | None = None  # None: the local twin for the sandbox, the Lambda-platform zip for AWS
    build: str = "missing"  # "missing": build what is missing; "always": rebuild; "never"
    dry_run: bool = False
    verbose: bool = False  # print every call as it is made
    target: str | None = None  # "sandbox" | "endpoint" | "aws"; None: "sandbox" for a Sandbox object, else "aws"
    target_label: str | None = None  # how the header names the target, e.g. "the sandbox at http://..."
    endpoint_url: str | None = None  # only for the commands printed at the end
    region: str | None = None  # None: the clients' region
    # destroy only
    delete_buckets: bool = False
    force: bool = False

    def validate(self) -> None:
        if not isinstance(self.memory, int) or not MIN_MEMORY_MB <= self.memory <= MAX_MEMORY_MB:
            raise DeployError(f"--memory must be a whole number of MB from {MIN_MEMORY_MB} to {MAX_MEMORY_MB}; "
                              f"got {self.memory!r}.")
        if not isinstance(self.timeout, int) or not MIN_TIMEOUT_S <= self.timeout <= MAX_TIMEOUT_S:
            raise DeployError(f"--timeout must be a whole number of seconds from {MIN_TIMEOUT_S} to "
                              f"{MAX_TIMEOUT_S}; got {self.timeout!r}.")
        if self.architecture not in ("x86_64", "arm64"):
            raise DeployError(f"--arch must be x86_64 or arm64; got {self.architecture!r}.")
        if self.build not in ("missing", "always", "never"):
            raise DeployError(f"build must be 'missing', 'always' or 'never'; got {self.build!r}.")
        if self.target not in (None, "sandbox", "endpoint", "aws"):
            raise DeployError(f"target must be 'sandbox', 'endpoint' or 'aws'; got {self.target!r}.")
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", self.function_name):
            raise DeployError(f"--function-name may use letters, digits, '-' and '_' (at most 64); "
                              f"got {self.function_name!r}.")
        if not re.fullmatch(r"[\w+=,.@-]{1,64}", self.role_name):
            raise DeployError(f"--role-name may use letters, digits and +=,.@_- (at most 64); got {self.role_name!r}.")
        for bucket in (self.source_bucket, self.destination_bucket):
            if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
                raise DeployError(f"{bucket!r} is not a valid S3 bucket name (3-63 lower-case letters, digits, "
                                  f"'.' and '-').")


# -------------------------------------------------------------------------------------------- report

@dataclass(frozen=True)
class Call:
    """One API call deploy made (or, in a dry run, would make)."""

    service: str
    operation: str  # AWS's name, e.g. CreateFunction
    params: dict

    def describe(self) -> str:
        parts = [f"{k}={_short(v)}" for k, v in self.params.items()]
        return f"{self.service} {self.operation} " + " ".join(parts)


@dataclass
class StepResult:
    number: int
    name: str
    outcome: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class DeployReport:
    """What deploy or destroy did, step by step, and every call it made (dry run: would make)."""

    action: str  # "deploy" | "destroy"
    target: str
    region: str
    account: str | None
    dry_run: bool
    steps: list[StepResult] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    role_arn: str | None = None
    function_arn: str | None = None
    layer_version_arn: str | None = None

    def step(self, number: int) -> StepResult:
        return next(s for s in self.steps if s.number == number)

    def operations(self, service: str | None = None) -> list[str]:
        return [c.operation for c in self.calls if service is None or c.service == service]


DestroyReport = DeployReport


class _Blob:
    """Bytes shown in a dry run as their file name and size instead of their content."""

    def __init__(self, data: bytes, label: str):
        self.data, self.label = data, label

    def __repr__(self) -> str:
        return f"<{self.label}, {_human(len(self.data))}>"


def _human(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} B"


def _short(value, limit: int = 90) -> str:
    if isinstance(value, _Blob):
        return repr(value)
    if isinstance(value, dict):
        value = {k: (repr(v) if isinstance(v, _Blob) else v) for k, v in value.items()}
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _unwrap(value):
    if isinstance(value, _Blob):
        return value.data
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _camel(method: str) -> str:
    return "".join(word.capitalize() for word in method.split("_"))


# ------------------------------------------------------------------------------------------ clients

class _Clients:
    """One client per service, from a boto3 Session, a Sandbox, a mapping or a function."""

    def __init__(self, source):
        if isinstance(source, Mapping):
            self._make: Callable[[str], Any] = lambda service: source[service]
        elif hasattr(source, "client") and callable(source.client):
            self._make = source.client
        elif callable(source):
            self._make = source
        else:
            raise TypeError("deploy() takes a boto3 Session, a Sandbox, a mapping of service -> client, or a "
                            "function service -> client")
        self._cache: dict[str, Any] = {}

    def __call__(self, service: str):
        if service not in self._cache:
            try:
                self._cache[service] = self._make(service)
            except Exception as exc:
                raise _boto_failure(exc, service, "client", None) from None
        return self._cache[service]

    def region(self) -> str:
        return self("lambda").meta.region_name


def _looks_like_sandbox(source) -> bool:
    return hasattr(source, "register_function") and hasattr(source, "endpoint_url")


def _boto_failure(exc: Exception, service: str, operation: str, endpoint: str | None) -> DeployError:
    """One sentence for a failed call."""
    from botocore import exceptions as bx

    where = f" ({endpoint})" if endpoint else ""
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return DeployError("No AWS credentials were found: run `aws configure` (or `aws sso login`), set "
                           "AWS_PROFILE or pass --profile — or rehearse in the sandbox with --endpoint-url.",
                           "NoCredentials")
    if isinstance(exc, bx.NoRegionError):
        return DeployError("No AWS region is configured: pass --region (for example --region us-east-1) or "
                           "set one in your AWS profile.", "NoRegion")
    if isinstance(exc, bx.ProfileNotFound):
        return DeployError(f"{exc}: list your profiles with `aws configure list-profiles`.", "ProfileNotFound")
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ConnectionClosedError,
                        bx.ReadTimeoutError)):
        return DeployError(f"Could not reach the {service} endpoint{where}: check that the sandbox is running "
                           f"(make run) or your network connection, then try again.", "EndpointUnreachable")
    if isinstance(exc, bx.TokenRetrievalError) or isinstance(exc, bx.SSOTokenLoadError):
        return DeployError("Your AWS SSO session has expired: run `aws sso login` and try again.", "ExpiredToken")
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        message = (error.get("Message") or exc.response.get("message") or "").strip().rstrip(".")
        op = f"{service}:{operation}"
        if code in _ACCESS_DENIED:
            return DeployError(f"Access denied: these credentials may not call {op} ({message}); ask for that "
                               f"permission or use a profile that has it (--profile).", code)
        if code in _BAD_CREDENTIALS:
            return DeployError(f"AWS rejected the credentials ({code}): they are invalid or expired; refresh them "
                               f"(`aws sso login` or `aws configure`) and try again.", code)
        return DeployError(f"{op} failed: {code}: {message or 'no message'}.", code)
    if isinstance(exc, bx.WaiterError):
        return DeployError(f"Gave up waiting for the function to be ready: {exc}.", "WaiterError")
    if isinstance(exc, (bx.ParamValidationError, bx.BotoCoreError)):
        return DeployError(f"{service}:{operation} could not be sent: {str(exc).strip()}", type(exc).__name__)
    return DeployError(f"{service}:{operation} failed: {exc}", type(exc).__name__)


class _Api:
    """Makes (or, in a dry run, prints) the calls, and records them in the report."""

    def __init__(self, clients: _Clients, report: DeployReport, printer: "_Printer", verbose: bool):
        self.clients = clients
        self.report = report
        self.printer = printer
        self.verbose = verbose

    @property
    def dry_run(self) -> bool:
        return self.report.dry_run

    def _do(self, service: str, method: str, params: dict) -> dict:
        client = self.clients(service)
        try:
            response = getattr(client, method)(**_unwrap(params))
        except Exception as exc:
            raise _boto_failure(exc, service, _camel(method), getattr(client.meta, "endpoint_url", None)) from None
        if isinstance(response, dict):
            response.pop("ResponseMetadata", None)
        return response

    def read(self, service: str, method: str, not_found: tuple[str, ...] = (), **params) -> dict | None:
        """A lookup. A dry run makes no call at all and treats everything as absent."""
        if self.dry_run:
            return None
        try:
            return self._do(service, method, params)
        except DeployError as exc:
            if exc.code in not_found:
                return None
            raise

    def call(self, service: str, method: str, **params) -> dict | None:
        """A change. A dry run prints it and returns None."""
        call = Call(service, _camel(method), params)
        self.report.calls.append(call)
        if self.dry_run or self.verbose:
            self.printer.call(call)
        if self.dry_run:
            return None
        return self._do(service, method, params)

    def wait(self, waiter: str, **params) -> None:
        """AWS applies function changes asynchronously (State Pending, LastUpdateStatus InProgress); the next
        change is refused until the previous one is done. The sandbox (moto) answers Active/Successful at
        once, so callers skip the wait when the response says so."""
        if self.dry_run:
            return
        client = self.clients("lambda")
        try:
            client.get_waiter(waiter).wait(**params, WaiterConfig={"Delay": 2, "MaxAttempts": 150})
        except Exception as exc:
            raise _boto_failure(exc, "lambda", waiter, None) from None


# ------------------------------------------------------------------------------------------ printing

class _Printer:
    def __init__(self, out, dry_run: bool):
        self.out = out
        self.dry_run = dry_run
        self._open = False  # a "Step n/4 ... " line waiting for its outcome

    def line(self, text: str = "") -> None:
        self._close()
        print(text, file=self.out, flush=True)

    def _close(self, text: str = "") -> None:
        if self._open:
            print(text, file=self.out, flush=True)
            self._open = False

    def call(self, call: Call) -> None:
        if self._open:
            self._close("(dry run) would call:" if self.dry_run else "")
        print(f"            {call.describe()}", file=self.out, flush=True)

    def step(self, report: DeployReport, number: int, name: str) -> "_Step":
        return _Step(self, report, number, name)


class _Step:
    def __init__(self, printer: _Printer, report: DeployReport, number: int, name: str):
        self.printer = printer
        self.result = StepResult(number, name)
        report.steps.append(self.result)

    def __enter__(self) -> StepResult:
        p = self.printer
        p._close()
        print(f"Step {self.result.number}/{STEPS}  {self.result.name} ... ", end="", file=p.out, flush=True)
        p._open = True
        return self.result

    def __exit__(self, exc_type, exc, tb) -> None:
        p = self.printer
        if exc_type is not None:
            outcome = "failed"
        else:
            outcome = self.result.outcome
        if p._open:
            p._close(outcome)
        elif not p.dry_run or exc_type is not None:
            print(f"            ... {outcome}", file=p.out, flush=True)
        for note in self.result.notes:
            print(f"          note: {note}", file=p.out, flush=True)


# --------------------------------------------------------------------------------------------- helpers

def _arn_function_name(arn: str) -> str:
    """arn:aws:lambda:us-east-1:123456789012:function:Name[:qualifier] -> Name."""
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else arn


def _layer_name_of(arn: str) -> str:
    """arn:aws:lambda:us-east-1:123456789012:layer:pillow-layer:3 -> pillow-layer."""
    parts = arn.split(":")
    return parts[6] if len(parts) > 7 and parts[5] == "layer" else arn


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _policy_doc(value) -> dict:
    """IAM returns policy documents URL-encoded; boto3 decodes them to a dict, other clients may not."""
    if isinstance(value, dict):
        return value
    from urllib.parse import unquote

    try:
        return json.loads(unquote(value or "{}"))
    except ValueError:
        return {}


def _trusts_lambda(document) -> bool:
    for statement in _policy_doc(document).get("Statement", []):
        services = (statement.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") == "Allow" and "lambda.amazonaws.com" in services and "sts:AssumeRole" in actions:
            return True
    return False


def _grants_s3_invoke(statement: dict, bucket_arn: str) -> bool:
    principal = statement.get("Principal") or {}
    service = principal.get("Service") if isinstance(principal, dict) else principal
    condition = statement.get("Condition") or {}
    source = (condition.get("ArnLike") or {}).get("AWS:SourceArn") or (condition.get("ArnEquals") or {}).get("AWS:SourceArn")
    return service == "s3.amazonaws.com" and source == bucket_arn


def _statement_id(bucket: str) -> str:
    return "s3-invoke-" + re.sub(r"[^A-Za-z0-9_-]", "-", bucket)


def _event_overlap(a: str, b: str) -> bool:
    """s3:ObjectCreated:* overlaps s3:ObjectCreated:Put; ObjectCreated never overlaps ObjectRemoved."""
    a_parts, b_parts = a.removeprefix("s3:").split(":"), b.removeprefix("s3:").split(":")
    for x, y in zip(a_parts, b_parts):
        if "*" in (x, y):
            return True
        if x != y:
            return False
    return True


def _filter_rules(configuration: dict) -> tuple[str, str]:
    rules = ((configuration.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    values = {r.get("Name", "").lower(): r.get("Value", "") for r in rules}
    return values.get("prefix", ""), values.get("suffix", "")


def _configurations_overlap(a: dict, b: dict) -> bool:
    """S3 refuses two configurations of one bucket that share an event type and whose key filters can
    match the same key ("Configurations overlap. Configurations on the same bucket cannot share a common
    event type"). moto does not check this; deploy does, so the sandbox refuses what AWS would."""
    if not any(_event_overlap(x, y) for x in a.get("Events", []) for y in b.get("Events", [])):
        return False
    (pa, sa), (pb, sb) = _filter_rules(a), _filter_rules(b)
    prefixes = pa.startswith(pb) or pb.startswith(pa)
    suffixes = sa.endswith(sb) or sb.endswith(sa)
    return prefixes and suffixes


def _destination_of(configuration: dict) -> str:
    return (configuration.get("LambdaFunctionArn") or configuration.get("QueueArn")
            or configuration.get("TopicArn") or "?")


# ------------------------------------------------------------------------------------------- packages

def _newest_mtime(folder: Path) -> float:
    times = [p.stat().st_mtime for p in folder.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return max(times, default=0.0)


def _prepare_function_zip(options: DeployOptions, printer: _Printer) -> Path:
    from . import packaging

    if options.function_zip is not None:
        path = Path(options.function_zip)
        if not path.is_file() and not options.dry_run:
            raise DeployError(f"The function zip {path} does not exist: build it with `python run_local.py "
                              f"package` or leave out --function-zip.")
    else:
        path = Path(options.build_dir) / "function.zip"
        code_dir = Path(options.code_dir)
        missing = not path.is_file()
        stale = not missing and code_dir.is_dir() and _newest_mtime(code_dir) > path.stat().st_mtime
        if options.build == "never" and missing and not options.dry_run:
            raise DeployError(f"{path} does not exist and --no-build was given: build it with "
                              f"`python run_local.py package`.")
        if options.build == "always" or (options.build == "missing" and (missing or stale)):
            reason = "rebuilding" if options.build == "always" else "missing" if missing else f"older than {code_dir}"
            if options.dry_run:
                printer.line(f"Function zip: {path} ({reason}: would be built from {code_dir})")
                return path
            packaging.build_function_zip(code_dir, path)
            printer.line(f"Function zip: {path} built from {code_dir} ({reason})")
        elif stale:
            printer.line(f"warning: {path} is older than the files in {code_dir}; it is deployed as it is "
                         f"(--no-build).")
    if path.is_file():
        problems = packaging.check_function_zip(path, options.handler)
        if problems:
            raise DeployError(problems[0])
    return path


def _prepare_layer_zip(options: DeployOptions, target: str, printer: _Printer,
                       report: DeployReport) -> tuple[Path | None, list[str]]:
    """The layer zip to upload (built if needed and allowed) and the lines that say what it is."""
    from . import packaging

    if not options.use_layer:
        return None, []
    lines: list[str] = []
    local = target == "sandbox"
    if options.layer_zip is not None:
        path = Path(options.layer_zip)
        if not path.is_file() and not options.dry_run:
            raise DeployError(f"The layer zip {path} does not exist: build it with `python run_local.py package"
                              f"{' --local' if local else ''}` or leave out --layer-zip.")
    else:
        path = Path(options.build_dir) / ("pillow-layer-local.zip" if local else "pillow-layer.zip")
        missing = not path.is_file()
        if options.build == "never" and missing and not options.dry_run:
            raise DeployError(f"{path} does not exist and --no-build was given: build it with "
                              f"`python run_local.py package{' --local' if local else ''}`.")
        if options.build == "always" or missing:
            what = "local twin for this interpreter" if local else f"AWS Lambda python3.12 {options.architecture}"
            if options.dry_run:
                printer.line(f"Layer zip: {path} ({'missing' if missing else 'rebuilding'}: would be built, "
                             f"Pillow for the {what})")
            else:
                printer.line(f"Layer zip: building {path} (Pillow for the {what}; downloads from PyPI) ...")
                built = packaging.build_pillow_layer(path, arch=options.architecture, local=local)
                if built.problems and not local:
                    raise DeployError(built.problems[0])
    if local:
        # AWS runs the function on Amazon Linux with python3.12 and imports the manylinux wheel; the sandbox
        # runs it with this machine's Python, which can only import compiled modules built for itself.
        here = packaging.Target.this_interpreter()
        lines.append(f"Layer zip: {path} — the LOCAL twin (Pillow for {here.cp} {sys.platform} {here.machine}, "
                     f"this interpreter): the sandbox runs the function with this machine's Python, which can "
                     f"only import a layer built for its own platform. AWS gets build/pillow-layer.zip "
                     f"(manylinux, python3.12) instead.")
        problems = packaging.check_layer(path, local=True) if path.is_file() else []
        if problems:
            # Not fatal in the sandbox: deploying a layer built for another platform is a mistake worth
            # rehearsing (the function then fails with "cannot import name '_imaging' from 'PIL'").
            lines.append(f"warning: {problems[0]}")
            report.notes.append(problems[0])
    else:
        lines.append(f"Layer zip: {path} — Pillow for AWS Lambda python3.12 {options.architecture}.")
        problems = packaging.check_layer(path, options.architecture, "3.12") if path.is_file() else []
        if problems:
            raise DeployError(f"{problems[0]} Build the right one with `python run_local.py package --arch "
                              f"{options.architecture}` (or pass --build).")
    return path, lines


# ------------------------------------------------------------------------------------------------ deploy

def _begin(kind: str, session_or_clients, options: DeployOptions | None, out):
    """What deploy and destroy both start with: validated options, the target, a report and a printer."""
    options = options or DeployOptions()
    options.validate()
    clients = _Clients(session_or_clients)
    target = options.target or ("sandbox" if _looks_like_sandbox(session_or_clients) else "aws")
    region = options.region or clients.region()
    report = DeployReport(kind, target, region, None, options.dry_run)
    printer = _Printer(out or sys.stdout, options.dry_run)
    label = options.target_label or ("the sandbox" if target == "sandbox" else "AWS" if target == "aws"
                                     else "the endpoint")
    return options, target, region, report, printer, _Api(clients, report, printer, options.verbose), label


def deploy(session_or_clients, options: DeployOptions | None = None, out=None) -> DeployReport:
    """The guide's four steps. Creates what is missing and updates what exists; returns what it did."""
    options, target, region, report, printer, api, label = _begin("deploy", session_or_clients, options, out)

    # The packages first: a missing or wrong zip stops the deploy before any call is made.
    function_zip = _prepare_function_zip(options, printer)
    layer_zip, layer_lines = _prepare_layer_zip(options, target, printer, report)
    account = _identify(api, report, target, label, printer, f"Deploying {options.function_name} to")
    for line in layer_lines:
        printer.line(line)
    function_arn = f"arn:aws:lambda:{region}:{account}:function:{options.function_name}"
    if options.dry_run:
        printer.line("Dry run: nothing is read or changed. These are the calls of a first deploy; run again, "
                     "a deploy updates what exists (UpdateFunctionCode, UpdateFunctionConfiguration) instead.")
    else:
        _check_trigger_conflicts(api, options, function_arn)

    role_arn, role_created = _step_role(api, printer, report, options, account, region, target)
    configuration = _step_function(api, printer, report, options, role_arn, role_created, function_zip, target)
    report.function_arn = function_arn = configuration.get("FunctionArn") or function_arn
    _step_layer(api, printer, report, options, configuration, layer_zip, target)
    _step_trigger(api, printer, report, options, function_arn, account, region)

    if not options.dry_run:
        _print_next_steps(printer, options, target)
    return report


def _identify(api: _Api, report: DeployReport, target: str, label: str, printer: _Printer, verb: str) -> str:
    """Who the credentials belong to: the account every ARN is in, and what the header shows."""
    if api.dry_run:
        account = ACCOUNT_ID if target == "sandbox" else "<account>"
        printer.line(f"{verb} {label}, region {report.region} (dry run: account not looked up).")
        report.account = account
        return account
    try:
        identity = api.read("sts", "get_caller_identity")
        account, caller = identity["Account"], identity.get("Arn", "")
    except DeployError:
        if target == "aws":
            raise
        account, caller = ACCOUNT_ID, ""  # a local endpoint without STS: moto's default account
    report.account = account
    who = f" as {caller}" if caller and target == "aws" else ""
    printer.line(f"{verb} {label}: account {account}{who}, region {report.region}.")
    return account


def _check_trigger_conflicts(api: _Api, options: DeployOptions, function_arn: str) -> None:
    """Before changing anything: would S3 refuse the trigger because another one overlaps it?"""
    configuration = api.read("s3", "get_bucket_notification_configuration", not_found=("NoSuchBucket",),
                             Bucket=options.source_bucket)
    if not configuration:
        return
    ours = {"Events": TRIGGER_EVENTS}
    for key in ("LambdaFunctionConfigurations", "QueueConfigurations", "TopicConfigurations"):
        for other in configuration.get(key) or []:
            if key == "LambdaFunctionConfigurations" and \
                    _arn_function_name(other.get("LambdaFunctionArn", "")) == options.function_name:
                continue
            if _configurations_overlap(ours, other):
                raise DeployError(
                    f"s3://{options.source_bucket} already sends {', '.join(other.get('Events', []))} events to "
                    f"{_destination_of(other)} (notification {other.get('Id', '?')}), and S3 refuses two "
                    f"overlapping triggers on one bucket: deploy with another --source-bucket, or remove that "
                    f"trigger first.", "ConfigurationsOverlap")


def _step_role(api: _Api, printer: _Printer, report: DeployReport, options: DeployOptions, account: str,
               region: str, target: str) -> tuple[str, bool]:
    name = options.role_name
    with printer.step(report, 1, f"IAM role {name}") as step:
        role = api.read("iam", "get_role", not_found=("NoSuchEntity",), RoleName=name)
        created = role is None
        changes: list[str] = []
        if created:
            response = api.call("iam", "create_role", RoleName=name,
                                AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
                                Description=f"Execution role of {options.function_name} (run_local.py deploy)")
            role_arn = response["Role"]["Arn"] if response else f"arn:aws:iam::{account}:role/{name}"
        else:
            role_arn = role["Role"]["Arn"]
            if not _trusts_lambda(role["Role"].get("AssumeRolePolicyDocument")):
                api.call("iam", "update_assume_role_policy", RoleName=name, PolicyDocument=json.dumps(TRUST_POLICY))
                changes.append("trust policy set to lambda.amazonaws.com")
        changes += _apply_role_policies(api, step, options, account, region, created, target)
        report.role_arn = role_arn
        if options.least_privilege:
            policies = f"inline policy {INLINE_POLICY_NAME} (least privilege)"
        else:
            policies = " + ".join(arn.rsplit("/", 1)[-1] for arn in GUIDE_MANAGED_POLICIES)
            if step.notes:
                policies += " (not attached here, see the note)"
        if created:
            step.outcome = f"created, {policies}"
        elif changes:
            step.outcome = f"exists, policies updated ({'; '.join(changes)})"
        else:
            step.outcome = f"exists, policies unchanged ({policies})"
    return role_arn, created


def _apply_role_policies(api: _Api, step: StepResult, options: DeployOptions, account: str, region: str,
                         created: bool, target: str) -> list[str]:
    name = options.role_name
    changes = []
    attached = set() if created else {
        p["PolicyArn"] for p in (api.read("iam", "list_attached_role_policies", RoleName=name) or {})
        .get("AttachedPolicies", [])}
    inline = set() if created else set(
        (api.read("iam", "list_role_policies", RoleName=name) or {}).get("PolicyNames", []))
    if options.least_privilege:
        document = least_privilege_policy(options.source_bucket, options.destination_bucket, region, account,
                                          options.function_name)
        current = None
        if INLINE_POLICY_NAME in inline:
            current = _policy_doc((api.read("iam", "get_role_policy", RoleName=name, PolicyName=INLINE_POLICY_NAME)
                                   or {}).get("PolicyDocument"))
        if current != document:
            api.call("iam", "put_role_policy", RoleName=name, PolicyName=INLINE_POLICY_NAME,
                     PolicyDocument=json.dumps(document))
            changes.append(f"{INLINE_POLICY_NAME} {'replaced' if current else 'added'}")
        for arn in GUIDE_MANAGED_POLICIES:
            if arn in attached:
                api.call("iam", "detach_role_policy", RoleName=name, PolicyArn=arn)
                changes.append(f"{arn.rsplit('/', 1)[-1]} detached")
        return changes
    unknown = []
    for arn in GUIDE_MANAGED_POLICIES:
        if arn in attached:
            continue
        try:
            api.call("iam", "attach_role_policy", RoleName=name, PolicyArn=arn)
            if not created:
                changes.append(f"{arn.rsplit('/', 1)[-1]} attached")
        except DeployError as exc:
            if exc.code != "NoSuchEntity" or target == "aws":
                raise
            api.report.calls.pop()
            unknown.append(arn.rsplit("/", 1)[-1])
    if unknown:
        # moto knows AWS's managed policies only when started with MOTO_IAM_LOAD_MANAGED_POLICIES=true.
        # Nothing is lost for the rehearsal: the sandbox does not enforce IAM.
        step.notes.append(f"this endpoint has no copy of the AWS managed polic{'ies' if len(unknown) > 1 else 'y'} "
                          f"{' + '.join(unknown)}, so {'they were' if len(unknown) > 1 else 'it was'} not attached; "
                          f"the sandbox does not enforce IAM, so the function runs the same (on AWS "
                          f"{'they are' if len(unknown) > 1 else 'it is'} attached).")
    if INLINE_POLICY_NAME in inline:
        api.call("iam", "delete_role_policy", RoleName=name, PolicyName=INLINE_POLICY_NAME)
        changes.append(f"{INLINE_POLICY_NAME} removed")
    return changes


def _step_function(api: _Api, printer: _Printer, report: DeployReport, options: DeployOptions, role_arn: str,
                   role_created: bool, function_zip: Path, target: str) -> dict:
    name = options.function_name
    summary = (f"{LAMBDA_RUNTIME}, {options.handler}, {options.memory} MB, {options.timeout} s, "
               f"{options.architecture}")
    with printer.step(report, 2, f"Lambda function {name}") as step:
        code = _Blob(function_zip.read_bytes() if function_zip.is_file() else b"", str(function_zip))
        existing = api.read("lambda", "get_function", not_found=("ResourceNotFoundException",), FunctionName=name)
        environment = {"DESTINATION_BUCKET": options.destination_bucket, **options.environment}
        if existing is None:
            params = dict(FunctionName=name, Runtime=LAMBDA_RUNTIME, Role=role_arn, Handler=options.handler,
                          Code={"ZipFile": code}, Description="Resizes images uploaded to "
                          f"{options.source_bucket} into {options.destination_bucket} (run_local.py deploy)",
                          MemorySize=options.memory, Timeout=options.timeout,
                          Environment={"Variables": environment}, Architectures=[options.architecture])
            configuration = _create_function(api, params, retry_role=role_created and target == "aws") or {}
            if configuration and configuration.get("State") not in (None, "Active"):
                api.wait("function_active", FunctionName=name)
            step.outcome = f"created ({summary})"
            if options.use_layer:
                step.notes.append("the Pillow layer is attached in step 3, as in the guide")
            return configuration
        current = existing["Configuration"]
        response = api.call("lambda", "update_function_code", FunctionName=name, ZipFile=code,
                            Architectures=[options.architecture])
        _wait_updated(api, name, response)
        variables = {**((current.get("Environment") or {}).get("Variables") or {}), **environment}
        response = api.call("lambda", "update_function_configuration", FunctionName=name, Role=role_arn,
                            Handler=options.handler, Runtime=LAMBDA_RUNTIME, MemorySize=options.memory,
                            Timeout=options.timeout, Environment={"Variables": variables})
        _wait_updated(api, name, response)
        same_code = current.get("CodeSha256") == _sha256_b64(code.data)
        step.outcome = f"exists, code{' (unchanged)' if same_code else ''} and configuration updated ({summary})"
        return response or current


def _create_function(api: _Api, params: dict, retry_role: bool) -> dict | None:
    """IAM is eventually consistent: for a few seconds after CreateRole, Lambda may answer "The role
    defined for the function cannot be assumed by Lambda". AWS's own tools retry; so does deploy."""
    for attempt in range(15 if retry_role else 1):
        try:
            return api.call("lambda", "create_function", **params)
        except DeployError as exc:
            if exc.code != "InvalidParameterValueException" or "assumed" not in str(exc) or attempt == 14 \
                    or not retry_role:
                raise
            api.report.calls.pop()
            time.sleep(2)
    return None


def _wait_updated(api: _Api, name: str, response: dict | None) -> None:
    if response and response.get("LastUpdateStatus") not in (None, "Successful"):
        api.wait("function_updated", FunctionName=name)


def _step_layer(api: _Api, printer: _Printer, report: DeployReport, options: DeployOptions, configuration: dict,
                layer_zip: Path | None, target: str) -> None:
    name = options.function_name
    current = [layer["Arn"] for layer in configuration.get("Layers") or []]
    others = [arn for arn in current if _layer_name_of(arn) != options.layer_name]
    if layer_zip is None:
        with printer.step(report, 3, f"Layer {options.layer_name}") as step:
            if others != current:
                response = api.call("lambda", "update_function_configuration", FunctionName=name, Layers=others)
                _wait_updated(api, name, response)
                detached = f"{options.layer_name} detached from {name}; "
            else:
                detached = ""
            step.outcome = (f"skipped (--no-layer): {detached}{name} has no Pillow, so the next upload fails "
                            f"with Runtime.ImportModuleError: No module named 'PIL'")
        return
    with printer.step(report, 3, f"Layer {options.layer_name}") as step:
        data = layer_zip.read_bytes() if layer_zip.is_file() else b""
        reuse = None
        versions = (api.read("lambda", "list_layer_versions", not_found=("ResourceNotFoundException",),
                             LayerName=options.layer_name) or {}).get("LayerVersions", [])
        if versions:
            newest = max(versions, key=lambda v: v["Version"])
            full = api.read("lambda", "get_layer_version", LayerName=options.layer_name,
                            VersionNumber=newest["Version"]) or {}
            same_zip = (full.get("Content") or {}).get("CodeSha256") == _sha256_b64(data)
            if same_zip and options.architecture in full.get("CompatibleArchitectures", [options.architecture]):
                reuse = full
        if reuse:
            arn = reuse["LayerVersionArn"]
            what = f"version {reuse['Version']} reused (same zip)"
        else:
            from . import packaging

            here = packaging.Target.this_interpreter()
            kind = f"local twin for {here.cp} {sys.platform} {here.machine}" if target == "sandbox" \
                else f"python3.12 {options.architecture}"
            response = api.call("lambda", "publish_layer_version", LayerName=options.layer_name,
                                Description=f"Pillow ({kind}), from {layer_zip.name}",
                                Content={"ZipFile": _Blob(data, str(layer_zip))},
                                CompatibleRuntimes=[LAMBDA_RUNTIME],
                                CompatibleArchitectures=[options.architecture])
            if response:
                arn, version = response["LayerVersionArn"], response["Version"]
            else:
                arn = (f"arn:aws:lambda:{report.region}:{report.account}:layer:{options.layer_name}:"
                       f"<next version>")
                version = "<next>"
            what = f"version {version} published"
        report.layer_version_arn = arn
        wanted = others + [arn]
        if wanted != current:
            response = api.call("lambda", "update_function_configuration", FunctionName=name, Layers=wanted)
            _wait_updated(api, name, response)
            step.outcome = f"{what}, attached to {name}"
        else:
            step.outcome = f"{what}, already attached to {name}"


def _step_trigger(api: _Api, printer: _Printer, report: DeployReport, options: DeployOptions, function_arn: str,
                  account: str, region: str) -> None:
    source, destination = options.source_bucket, options.destination_bucket
    name = options.function_name
    with printer.step(report, 4, f"S3 trigger s3://{source} -> {name}") as step:
        parts = []
        created = [b for b in dict.fromkeys([source, destination]) if _ensure_bucket(api, b, region)]
        if created:
            parts.append(f"bucket{'s' if len(created) > 1 else ''} {', '.join(created)} created")
        else:
            parts.append("buckets exist")
        if source == destination:
            step.notes.append("source and destination are the same bucket: every resized image triggers the "
                              "function again (the handler skips keys starting with its output prefix, but each "
                              "skip is still an invocation you pay for).")

        # S3 may invoke the function only if the function's resource policy allows it.
        bucket_arn = f"arn:aws:s3:::{source}"
        policy = api.read("lambda", "get_policy", not_found=("ResourceNotFoundException",), FunctionName=name)
        statements = json.loads(policy["Policy"]).get("Statement", []) if policy and policy.get("Policy") else []
        if any(_grants_s3_invoke(s, bucket_arn) for s in statements):
            parts.append("invoke permission exists")
        else:
            sid = _statement_id(source)
            permission = dict(FunctionName=name, StatementId=sid, Action="lambda:InvokeFunction",
                              Principal="s3.amazonaws.com", SourceArn=bucket_arn, SourceAccount=account)
            try:
                api.call("lambda", "add_permission", **permission)
            except DeployError as exc:
                if exc.code != "ResourceConflictException":
                    raise
                api.call("lambda", "remove_permission", FunctionName=name, StatementId=sid)
                api.call("lambda", "add_permission", **permission)
            parts.append("invoke permission added")

        configuration = api.read("s3", "get_bucket_notification_configuration", Bucket=source) or {}
        configuration = {k: v for k, v in configuration.items() if k in _NOTIFICATION_KEYS}
        lambdas = configuration.get("LambdaFunctionConfigurations") or []
        mine = [c for c in lambdas if _arn_function_name(c.get("LambdaFunctionArn", "")) == name]
        entry = {"Id": (mine[0].get("Id") if mine and mine[0].get("Id") else f"{name}-trigger"),
                 "LambdaFunctionArn": function_arn, "Events": list(TRIGGER_EVENTS)}
        if len(mine) == 1 and mine[0].get("LambdaFunctionArn") == function_arn \
                and sorted(mine[0].get("Events", [])) == TRIGGER_EVENTS and not mine[0].get("Filter"):
            parts.append("notification exists")
        else:
            configuration["LambdaFunctionConfigurations"] = [c for c in lambdas if c not in mine] + [entry]
            _put_notification(api, source, configuration)
            parts.append(f"notification {TRIGGER_EVENTS[0]} {'updated' if mine else 'added'}")
        step.outcome = ", ".join(parts)


def _ensure_bucket(api: _Api, bucket: str, region: str) -> bool:
    """Create the bucket if it does not exist; True when created."""
    if not api.dry_run:
        try:
            api._do("s3", "head_bucket", {"Bucket": bucket})
            return False
        except DeployError as exc:
            if exc.code in ("403", "AccessDenied"):
                raise DeployError(f"The bucket name {bucket} is taken by another AWS account (bucket names are "
                                  f"global across all accounts): choose another with --source-bucket / "
                                  f"--destination-bucket.", "BucketNameTaken") from None
            if exc.code not in ("404", "NoSuchBucket", "NotFound"):
                raise
    params: dict = {"Bucket": bucket}
    if region != "us-east-1":  # us-east-1 is S3's default location and must not be named
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        api.call("s3", "create_bucket", **params)
    except DeployError as exc:
        if exc.code == "BucketAlreadyOwnedByYou":
            return False
        if exc.code == "BucketAlreadyExists":
            raise DeployError(f"The bucket name {bucket} is taken by another AWS account (bucket names are "
                              f"global across all accounts): choose another with --source-bucket / "
                              f"--destination-bucket.", "BucketNameTaken") from None
        raise
    return True


def _put_notification(api: _Api, bucket: str, configuration: dict) -> None:
    """S3 checks the function's permission when the configuration is saved; on AWS a permission added a
    moment ago may not be visible yet ("Unable to validate the following destination configurations"),
    so deploy retries for a few seconds."""
    for attempt in range(6):
        try:
            api.call("s3", "put_bucket_notification_configuration", Bucket=bucket,
                     NotificationConfiguration=configuration)
            return
        except DeployError as exc:
            if exc.code != "InvalidArgument" or "validate" not in str(exc) or attempt == 5:
                raise
            api.report.calls.pop()
            time.sleep(2)


def _cli_flags(options: DeployOptions, target: str) -> str:
    """The flags that repeat this deploy's target and names on another command line."""
    defaults = DeployOptions()
    flags = []
    if target == "aws":
        flags.append("--aws")
    elif options.endpoint_url and options.endpoint_url != DEFAULT_ENDPOINT:
        flags.append(f"--endpoint-url {options.endpoint_url}")
    for attr in ("function_name", "role_name", "layer_name", "source_bucket", "destination_bucket"):
        if getattr(options, attr) != getattr(defaults, attr):
            flags.append(f"--{attr.replace('_', '-')} {getattr(options, attr)}")
    return (" " + " ".join(flags)) if flags else ""


def _print_next_steps(printer: _Printer, options: DeployOptions, target: str) -> None:
    src, dst, name = options.source_bucket, options.destination_bucket, options.function_name
    printer.line()
    if target == "sandbox":
        endpoint = (f" --endpoint-url {options.endpoint_url}"
                    if options.endpoint_url and options.endpoint_url != DEFAULT_ENDPOINT else "")
        printer.line(f"Deployed to the sandbox. Try it:  python run_local.py upload sample_images/test.jpg "
                     f"--bucket {src}{endpoint}")
        printer.line(f"Remove it again:  python run_local.py destroy{_cli_flags(options, target)}")
        return
    printer.line("Deployed. Try it:")
    printer.line(f"  aws s3 cp sample_images/test.jpg s3://{src}/test.jpg")
    printer.line(f"  aws s3 ls s3://{dst}/            (resized-test.jpg appears within seconds)")
    printer.line(f"  aws logs tail /aws/lambda/{name} --follow")
    if target == "aws":
        printer.line("Cost: IAM, layers and S3 notifications are free; each upload is one Lambda request plus "
                     "GB-seconds (1M requests and 400,000 GB-s a month are free) and a little S3 storage.")
        printer.line(f"Remove everything:  python run_local.py destroy{_cli_flags(options, target)} "
                     f"[--delete-buckets [--force]]")


# ----------------------------------------------------------------------------------------------- destroy

def destroy(session_or_clients, options: DeployOptions | None = None, out=None) -> DeployReport:
    """Remove what deploy created, in reverse order: trigger, layer versions, function, role (and the
    buckets with delete_buckets, only if empty unless force)."""
    options, target, region, report, printer, api, label = _begin("destroy", session_or_clients, options, out)
    account = _identify(api, report, target, label, printer, f"Removing {options.function_name} from")
    if options.dry_run:
        printer.line("Dry run: nothing is read or changed. These are the calls that remove everything deploy "
                     "creates; what does not exist is skipped.")
    name = options.function_name
    function_arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    report.function_arn = function_arn

    with printer.step(report, 4, f"S3 trigger s3://{options.source_bucket} -> {name}") as step:
        step.outcome = _destroy_trigger(api, step, options, function_arn)
    with printer.step(report, 3, f"Layer {options.layer_name}") as step:
        versions = []
        if api.dry_run:
            api.call("lambda", "delete_layer_version", LayerName=options.layer_name, VersionNumber="<each version>")
        else:
            versions = _all_layer_versions(api, options.layer_name)
            for version in versions:
                api.call("lambda", "delete_layer_version", LayerName=options.layer_name, VersionNumber=version)
        step.outcome = (f"{len(versions)} version(s) deleted ({', '.join(map(str, sorted(versions)))})"
                        if versions else "no versions" if not api.dry_run else "")
    with printer.step(report, 2, f"Lambda function {name}") as step:
        if api.dry_run or api.read("lambda", "get_function", not_found=("ResourceNotFoundException",),
                                   FunctionName=name):
            api.call("lambda", "delete_function", FunctionName=name)
            step.outcome = "deleted"
        else:
            step.outcome = "not found"
    with printer.step(report, 1, f"IAM role {options.role_name}") as step:
        step.outcome = _destroy_role(api, step, options, name)
    printer.line()
    printer.line(f"Kept: the log group /aws/lambda/{name} (delete it with `aws logs delete-log-group "
                 f"--log-group-name /aws/lambda/{name}`)"
                 + ("" if options.delete_buckets else f" and the buckets {options.source_bucket}, "
                    f"{options.destination_bucket} (--delete-buckets)") + ".")
    return report


def _destroy_trigger(api: _Api, step: StepResult, options: DeployOptions, function_arn: str) -> str:
    name, source = options.function_name, options.source_bucket
    parts = []
    if api.dry_run:
        api.call("s3", "put_bucket_notification_configuration", Bucket=source,
                 NotificationConfiguration=f"<the current configuration without the entries for {name}>")
        api.call("lambda", "remove_permission", FunctionName=name, StatementId="<the s3.amazonaws.com statement>")
    else:
        configuration = api.read("s3", "get_bucket_notification_configuration", not_found=("NoSuchBucket",),
                                 Bucket=source)
        configuration = {k: v for k, v in (configuration or {}).items() if k in _NOTIFICATION_KEYS}
        lambdas = configuration.get("LambdaFunctionConfigurations") or []
        kept = [c for c in lambdas if _arn_function_name(c.get("LambdaFunctionArn", "")) != name]
        if len(kept) != len(lambdas):
            configuration["LambdaFunctionConfigurations"] = kept
            if not kept:
                configuration.pop("LambdaFunctionConfigurations")
            api.call("s3", "put_bucket_notification_configuration", Bucket=source,
                     NotificationConfiguration=configuration)
            parts.append(f"notification entry removed ({len(lambdas) - len(kept)})")
        else:
            parts.append("no notification entry")
        policy = api.read("lambda", "get_policy", not_found=("ResourceNotFoundException",), FunctionName=name)
        statements = json.loads(policy["Policy"]).get("Statement", []) if policy and policy.get("Policy") else []
        removed = 0
        for statement in statements:
            principal = statement.get("Principal") or {}
            if isinstance(principal, dict) and principal.get("Service") == "s3.amazonaws.com" and statement.get("Sid"):
                api.call("lambda", "remove_permission", FunctionName=name, StatementId=statement["Sid"])
                removed += 1
        parts.append(f"invoke permission removed ({removed})" if removed else "no invoke permission")
    if options.delete_buckets:
        for bucket in dict.fromkeys([options.source_bucket, options.destination_bucket]):
            parts.append(_destroy_bucket(api, step, bucket, options.force))
    return ", ".join(parts)


def _destroy_bucket(api: _Api, step: StepResult, bucket: str, force: bool) -> str:
    if api.dry_run:
        if force:
            api.call("s3", "delete_objects", Bucket=bucket, Delete="<every object version, 1,000 per call>")
        api.call("s3", "delete_bucket", Bucket=bucket)
        return ""
    listing = api.read("s3", "list_object_versions", not_found=("NoSuchBucket",), Bucket=bucket, MaxKeys=1000)
    if listing is None:
        return f"bucket {bucket} not found"
    deleted = 0
    while True:
        objects = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in listing.get("Versions", []) + listing.get("DeleteMarkers", [])]
        if objects and not force:
            step.notes.append(f"s3://{bucket} is not empty, so it was kept: add --force to delete its objects "
                              f"and the bucket.")
            return f"bucket {bucket} kept (not empty)"
        if objects:
            api.call("s3", "delete_objects", Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            deleted += len(objects)
        if not listing.get("IsTruncated"):
            break
        listing = api.read("s3", "list_object_versions", Bucket=bucket, MaxKeys=1000,
                           KeyMarker=listing.get("NextKeyMarker"),
                           VersionIdMarker=listing.get("NextVersionIdMarker")) or {}
    api.call("s3", "delete_bucket", Bucket=bucket)
    return f"bucket {bucket} deleted" + (f" ({deleted} object(s))" if deleted else "")


def _all_layer_versions(api: _Api, layer_name: str) -> list[int]:
    versions, marker = [], None
    while True:
        params = {"LayerName": layer_name, **({"Marker": marker} if marker else {})}
        page = api.read("lambda", "list_layer_versions", not_found=("ResourceNotFoundException",), **params) or {}
        versions += [v["Version"] for v in page.get("LayerVersions", [])]
        marker = page.get("NextMarker")
        if not marker:
            return versions


def _destroy_role(api: _Api, step: StepResult, options: DeployOptions, function_name: str) -> str:
    name = options.role_name
    if api.dry_run:
        for arn in GUIDE_MANAGED_POLICIES:
            api.call("iam", "detach_role_policy", RoleName=name, PolicyArn=arn)
        api.call("iam", "delete_role_policy", RoleName=name, PolicyName=INLINE_POLICY_NAME)
        api.call("iam", "delete_role", RoleName=name)
        return ""
    role = api.read("iam", "get_role", not_found=("NoSuchEntity",), RoleName=name)
    if role is None:
        return "not found"
    # A role shared with another function stays: deleting it would break that function.
    users = []
    marker = None
    while True:
        page = api.read("lambda", "list_functions", **({"Marker": marker} if marker else {})) or {}
        users += [f["FunctionName"] for f in page.get("Functions", [])
                  if f.get("Role") == role["Role"]["Arn"] and f["FunctionName"] != function_name]
        marker = page.get("NextMarker")
        if not marker:
            break
    if users:
        step.notes.append(f"{name} is still the execution role of {', '.join(users)}; delete those functions "
                          f"first if you mean to remove it.")
        return f"kept (still used by {', '.join(users)})"
    attached = (api.read("iam", "list_attached_role_policies", RoleName=name) or {}).get("AttachedPolicies", [])
    for policy in attached:
        api.call("iam", "detach_role_policy", RoleName=name, PolicyArn=policy["PolicyArn"])
    inline = (api.read("iam", "list_role_policies", RoleName=name) or {}).get("PolicyNames", [])
    for policy_name in inline:
        api.call("iam", "delete_role_policy", RoleName=name, PolicyName=policy_name)
    api.call("iam", "delete_role", RoleName=name)
    removed = [p["PolicyArn"].rsplit("/", 1)[-1] for p in attached] + list(inline)
    return "deleted" + (f" with {', '.join(removed)}" if removed else "")


# --------------------------------------------------------------------------------------------------- CLI

@dataclass(frozen=True)
class ResolvedTarget:
    kind: str  # "sandbox" | "endpoint" | "aws"
    endpoint_url: str | None
    region: str
    profile: str | None
    label: str

    def clients(self) -> Callable[[str], Any]:
        import boto3
        from botocore.config import Config

        try:
            if self.kind == "aws":
                session = boto3.Session(profile_name=self.profile, region_name=self.region)
            elif self.kind == "sandbox" or not self.profile:
                # The sandbox accepts any credentials; these are the ones its banner prints.
                session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                        region_name=self.region)
            else:
                session = boto3.Session(profile_name=self.profile, region_name=self.region)
        except Exception as exc:
            raise _boto_failure(exc, "session", "create", None) from None
        if self.kind == "aws":
            # AWS_ENDPOINT_URL (pasted from the sandbox's banner) must not send an AWS deploy elsewhere.
            config = Config(retries={"max_attempts": 6, "mode": "standard"}, ignore_configured_endpoint_urls=True)
            return lambda service: session.client(service, config=config)
        config = Config(retries={"max_attempts": 2, "mode": "standard"})
        return lambda service: session.client(service, endpoint_url=self.endpoint_url, config=config)


def probe_endpoint(url: str, timeout: float = 2.0) -> str | None:
    """'sandbox' when a sandbox answers GET <url>/_sandbox/health with JSON carrying "status", 'endpoint'
    when something else answers there, None when nothing listens."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/_sandbox/health", timeout=timeout) as response:
            body = json.loads(response.read() or b"{}")
            return "sandbox" if isinstance(body, dict) and "status" in body else "endpoint"
    except urllib.error.HTTPError:
        return "endpoint"
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            return "endpoint"
        raise DeployError(f"--endpoint-url must be a URL such as {DEFAULT_ENDPOINT}; got {url!r}.") from None
    except (urllib.error.URLError, OSError):
        return None


def resolve_target(args: argparse.Namespace) -> ResolvedTarget:
    """--aws: AWS. --endpoint-url (or AWS_ENDPOINT_URL): that endpoint, which must answer. Neither: the
    sandbox on its default port if one is running, else AWS."""
    region = args.region
    if getattr(args, "aws", False):
        if args.endpoint_url:
            raise DeployError("--aws and --endpoint-url contradict each other: keep one.")
        return ResolvedTarget("aws", None, region or _aws_region(args.profile), args.profile, "AWS")
    endpoint, source = args.endpoint_url, "--endpoint-url"
    if not endpoint and os.environ.get("AWS_ENDPOINT_URL"):
        endpoint, source = os.environ["AWS_ENDPOINT_URL"], "AWS_ENDPOINT_URL"
    if endpoint:
        kind = probe_endpoint(endpoint)
        if kind is None:
            hint = (" (it comes from the AWS_ENDPOINT_URL environment variable; unset it or pass --aws to deploy "
                    "to AWS)" if source == "AWS_ENDPOINT_URL" else "; leave out --endpoint-url to deploy to AWS")
            raise DeployError(f"Nothing answers at {endpoint}: start the sandbox first (make run, or python "
                              f"run_local.py){hint}.", "EndpointUnreachable")
        label = f"the sandbox at {endpoint}" if kind == "sandbox" else f"the endpoint {endpoint}"
        return ResolvedTarget(kind, endpoint, region or "us-east-1", args.profile, label)
    if probe_endpoint(DEFAULT_ENDPOINT, timeout=1.0) == "sandbox":
        return ResolvedTarget("sandbox", DEFAULT_ENDPOINT, region or "us-east-1", None,
                              f"the sandbox at {DEFAULT_ENDPOINT} (running, so it is the default; --aws "
                              f"targets AWS)")
    return ResolvedTarget("aws", None, region or _aws_region(args.profile), args.profile, "AWS")


def _aws_region(profile: str | None) -> str:
    import boto3

    try:
        region = boto3.Session(profile_name=profile).region_name
    except Exception as exc:
        raise _boto_failure(exc, "session", "create", None) from None
    if not region:
        raise DeployError("No AWS region is configured: pass --region (for example --region us-east-1) or set "
                          "one in your AWS profile.", "NoRegion")
    return region


def _env_pairs(values) -> dict[str, str]:
    try:
        return parse_env_pairs(values)
    except ConfigError as exc:
        raise DeployError(str(exc)) from None


def _common_options(p: argparse.ArgumentParser) -> None:
    where = p.add_argument_group("target (default: the sandbox at 127.0.0.1:4566 if it is running, else AWS)")
    where.add_argument("--endpoint-url", default=None,
                       help="a local endpoint, e.g. http://127.0.0.1:4566 (AWS_ENDPOINT_URL is honoured too)")
    where.add_argument("--aws", action="store_true", help="target AWS even when a sandbox is running")
    where.add_argument("--profile", default=None, help="AWS profile (the normal credential chain otherwise)")
    where.add_argument("--region", default=None, help="AWS region (default: the profile's; us-east-1 locally)")
    names = p.add_argument_group("names (the guide's by default)")
    names.add_argument("--function-name", default=FUNCTION_NAME)
    names.add_argument("--role-name", default=ROLE_NAME)
    names.add_argument("--layer-name", default=LAYER_NAME)
    names.add_argument("--source-bucket", default=SOURCE_BUCKET)
    names.add_argument("--destination-bucket", default=DESTINATION_BUCKET)
    p.add_argument("--dry-run", action="store_true", help="print the calls without making any")
    p.add_argument("-v", "--verbose", action="store_true", help="print every call as it is made")


def add_subcommands(subparsers) -> None:
    """Register `deploy` and `destroy` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "deploy", help="create or update the guide's role, function, layer and trigger (sandbox or AWS)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Perform the guide's steps with boto3: (1) the IAM role, (2) the function from "
                    "build/function.zip, (3) the Pillow layer, (4) the S3 trigger. Running it again updates "
                    "instead of failing.",
        epilog="examples:\n"
               "  run_local.py deploy                       into the running sandbox (a rehearsal)\n"
               "  run_local.py deploy --no-layer            ... without Pillow: the guide's classic mistake\n"
               "  run_local.py deploy --aws --dry-run       print the AWS calls, make none\n"
               "  run_local.py deploy --aws --profile dev --region eu-west-1 --least-privilege \\\n"
               "      --source-bucket my-uploads-123 --destination-bucket my-resized-123\n")
    _common_options(p)
    fn = p.add_argument_group("function")
    fn.add_argument("--memory", type=int, default=128, help="memory in MB, 128-10240 (default: 128)")
    fn.add_argument("--timeout", type=int, default=3, help="timeout in seconds, 1-900 (default: 3)")
    fn.add_argument("--arch", default="x86_64", choices=("x86_64", "arm64"), help="architecture (default: x86_64)")
    fn.add_argument("--env", action="append", metavar="KEY=VALUE",
                    help="an environment variable (repeatable); DESTINATION_BUCKET is set from --destination-bucket")
    fn.add_argument("--least-privilege", action="store_true",
                    help="an inline policy (GetObject on the source, PutObject on the destination, its own logs) "
                         "instead of the guide's AmazonS3FullAccess + AWSLambdaBasicExecutionRole")
    fn.add_argument("--no-layer", action="store_true",
                    help="deploy without the Pillow layer, to rehearse Runtime.ImportModuleError")
    pk = p.add_argument_group("packages")
    pk.add_argument("--code-dir", default=str(PROJECT_ROOT / "handler"), help="the function's code (default: handler/)")
    pk.add_argument("--build-dir", default=str(PROJECT_ROOT / "build"), help="where the zips are (default: build/)")
    pk.add_argument("--function-zip", default=None, help="default: <build-dir>/function.zip, rebuilt when stale")
    pk.add_argument("--layer-zip", default=None,
                    help="default: <build-dir>/pillow-layer-local.zip (the local twin) for a sandbox, "
                         "<build-dir>/pillow-layer.zip (manylinux, python3.12) for AWS")
    build = pk.add_mutually_exclusive_group()
    build.add_argument("--build", action="store_true", help="rebuild the zips first (default: build only missing ones)")
    build.add_argument("--no-build", action="store_true", help="never build; fail if a zip is missing")
    p.set_defaults(func=run_deploy, deploy_command="deploy")

    d = subparsers.add_parser(
        "destroy", help="remove what deploy created (trigger, permission, function, layer versions, role)",
        description="Remove, in reverse order, what `deploy` created: the bucket notification entry and the "
                    "invoke permission, the layer versions, the function, the role with its policies. Buckets "
                    "only with --delete-buckets, and only if empty unless --force.")
    _common_options(d)
    d.add_argument("--delete-buckets", action="store_true", help="also delete the two buckets if they are empty")
    d.add_argument("--force", action="store_true", help="with --delete-buckets: delete their objects first")
    d.set_defaults(func=run_destroy, deploy_command="destroy")


def _options_from_args(args: argparse.Namespace, target: ResolvedTarget) -> DeployOptions:
    options = DeployOptions(
        function_name=args.function_name, role_name=args.role_name, layer_name=args.layer_name,
        source_bucket=args.source_bucket, destination_bucket=args.destination_bucket,
        dry_run=args.dry_run, verbose=args.verbose, target=target.kind, target_label=target.label,
        region=target.region, endpoint_url=target.endpoint_url)
    # run_local.py's own options (--memory, --code-dir...) share the namespace: ask which command this is.
    if getattr(args, "deploy_command", "deploy") == "deploy":
        options.memory, options.timeout, options.architecture = args.memory, args.timeout, args.arch
        options.environment = _env_pairs(args.env)
        options.least_privilege, options.use_layer = args.least_privilege, not args.no_layer
        options.code_dir, options.build_dir = Path(args.code_dir), Path(args.build_dir)
        options.function_zip = Path(args.function_zip) if args.function_zip else None
        options.layer_zip = Path(args.layer_zip) if args.layer_zip else None
        options.build = "always" if args.build else "never" if args.no_build else "missing"
    else:
        options.delete_buckets, options.force = args.delete_buckets, args.force
        if args.force and not args.delete_buckets:
            raise DeployError("--force only applies with --delete-buckets: add it, or leave out --force.")
    return options


def _run(action: Callable, args: argparse.Namespace, out, err) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        target = resolve_target(args)
        options = _options_from_args(args, target)
        action(target.clients(), options, out=out)
    except SandboxError as exc:  # DeployError, PackagingError: one sentence, no traceback
        out.flush()
        print(f"error: {exc}", file=err)
        return 2
    return 0


def run_deploy(args: argparse.Namespace, out=None, err=None) -> int:
    """The `deploy` subcommand: 0 when done, 2 (one sentence on stderr) when it could not be done."""
    return _run(deploy, args, out, err)


def run_destroy(args: argparse.Namespace, out=None, err=None) -> int:
    """The `destroy` subcommand: 0 when done, 2 (one sentence on stderr) when it could not be done."""
    return _run(destroy, args, out, err)


__all__ = [
    "Call", "DeployError", "DeployOptions", "DeployReport", "DestroyReport", "GUIDE_MANAGED_POLICIES",
    "INLINE_POLICY_NAME", "LAYER_NAME", "ResolvedTarget", "StepResult", "TRUST_POLICY", "add_subcommands",
    "deploy", "destroy", "least_privilege_policy", "probe_endpoint", "resolve_target", "run_deploy", "run_destroy",
]
