"""Configuration as data, in one place, with the AWS console's defaults.

Precedence, as in the console: these defaults, then CLI flags, then the page or the Lambda API
(``update-function-configuration``). A changed configuration retires warm environments, as on AWS.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The guide's names are part of the contract.
FUNCTION_NAME = "ImageResizeLambda"
SOURCE_BUCKET = "source-image-bucket123"
DESTINATION_BUCKET = "resized-image-bucket123"
ROLE_NAME = "ImageResizeLambdaRole"
LAYER_NAME = "pillow-layer"  # step 3: the layer that brings Pillow to the function
# The handler's default OUTPUT_KEY_PREFIX: test.jpg -> resized-test.jpg. handler/ keeps its own copy of it,
# as it imports nothing local (it is what gets deployed to AWS).
OUTPUT_KEY_PREFIX = "resized-"
DEFAULT_HANDLER = "lambda_function.lambda_handler"  # the console's default file and function name
TRIGGER_ID = "ImageResizeTrigger"  # step 4: the S3 event notification's configuration id

# Step 1's role: Lambda may assume it, and the guide attaches these two AWS managed policies (their ARNs).
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
GUIDE_MANAGED_POLICY_ARNS = (
    "arn:aws:iam::aws:policy/AmazonS3FullAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
)

# The Lambda runtime the project targets. The sandbox runs the function on the local interpreter and
# says so; `run_local.py package` builds for this runtime.
LAMBDA_RUNTIME = "python3.12"
RUNTIME_VERSION = "python:3.12.v40"
ACCOUNT_ID = "123456789012"
# The sandbox's own process (run_local.py, and the tests' processes, which run sandboxes in-process) collects
# garbage less often than Python's default (700, 10, 10): it holds moto's and botocore's models and its
# services' state, long-lived objects that each collection of the older generations walks again. Functions'
# processes keep Python's default, as AWS's runtime does.
GC_THRESHOLDS = (10_000, 20, 20)
DEFAULT_REGION = "us-east-1"
# The console's defaults for a new function.
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_S = 3

# The local AWS endpoint, and the dummy credentials for it (moto accepts any; the banner prints these).
DEFAULT_ENDPOINT_URL = "http://127.0.0.1:4566"
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
# Where `make run` keeps state across restarts (sandbox/state/): in the project folder, next to handler/,
# so it survives reboots and a laptop's sleep (unlike /tmp), belongs to this checkout (two classes' clones
# do not share it), and is seen and removed like any folder (`run_local.py reset`). Git ignores it.
DEFAULT_STATE_DIR = PROJECT_ROOT / ".sandbox-state"

# Lambda's limits.
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10_240
MIN_TIMEOUT_S, MAX_TIMEOUT_S = 1, 900
# Memory buys CPU (Lambda developer guide, "Configure Lambda function memory"): "Lambda allocates CPU power
# in proportion to the amount of memory configured ... At 1,769 MB, a function has the equivalent of one
# vCPU (one vCPU-second of credits per second)". How the sandbox holds each environment to that share:
# sandbox/lambda_/cpu_share.py.
MEMORY_MB_PER_VCPU = 1_769
# How many vCPUs a function sees, by memory size: (up to this many MB, vCPUs). 2 up to 3,008 MB and 6 at
# 10,240 MB (AWS News Blog, "New for AWS Lambda - Functions with Up to 10 GB of Memory and 6 vCPUs",
# 2020-12-01); the steps between follow the credits (one more vCPU per 1,769 MB), as measured in functions.
VCPU_COUNT_BY_MEMORY = ((3_008, 2), (5_307, 3), (7_076, 4), (8_845, 5), (MAX_MEMORY_MB, 6))
RESERVED_ENV_KEYS = {
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
}
_ENV_KEY = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")


def parse_env_pairs(values) -> dict[str, str]:
    """``["SCALE=0.25", "A=b=c"]`` -> ``{"SCALE": "0.25", "A": "b=c"}``, as ``--env KEY=VALUE`` takes them."""
    env = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--env takes KEY=VALUE; got {item!r}.")
        env[key] = value
    return env


@dataclass
class FunctionConfiguration:
    """What ``get-function-configuration`` describes, for one function."""

    function_name: str = FUNCTION_NAME
    handler: str = DEFAULT_HANDLER
    code_dir: Path = PROJECT_ROOT / "handler"
    runtime: str = LAMBDA_RUNTIME
    memory_size: int = DEFAULT_MEMORY_MB  # MB, console default
    timeout: int = DEFAULT_TIMEOUT_S  # seconds, console default
    environment: dict = field(default_factory=dict)
    architecture: str = "x86_64"
    layers: tuple = ()  # folders laid out as /opt would be (each holding python/...)
    reserved_concurrency: int = 10  # AWS's account default is 1,000; a laptop has fewer cores
    maximum_retry_attempts: int = 2
    maximum_event_age_s: int = 21_600
    # The SQS queue (name) that receives events which failed every attempt (DeadLetterConfig). AWS has
    # none unless configured; the sandbox gives its own function "<name>-dlq" (see Sandbox).
    dead_letter_queue: str | None = None
    on_failure_destination: str | None = None  # an ARN: SQS queue, SNS topic, function, event bus
    on_success_destination: str | None = None  # the same kinds (destinations.py)
    role_arn: str = f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"
    strict_imports: bool = False  # True for functions deployed with layers (see env_vars.py)
    revision: int = 0  # bumped on every change; warm environments of an older revision are retired
    # "$LATEST", or the number publish-version gave this frozen copy ("1", "2", ...; lambda_/versions.py)
    version: str = "$LATEST"

    def __post_init__(self):
        self.code_dir = Path(self.code_dir)
        self.validate()

    @property
    def dlq_name(self) -> str | None:
        return self.dead_letter_queue

    def arn(self, region: str = DEFAULT_REGION, qualifier: str | None = None) -> str:
        """The unqualified ARN, or with ``:qualifier`` (a version, ``$LATEST`` or an alias)."""
        arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{self.function_name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def validate(self) -> None:
        if not isinstance(self.memory_size, int) or not MIN_MEMORY_MB <= self.memory_size <= MAX_MEMORY_MB:
            raise ConfigError(
                f"Memory size must be a whole number of MB from {MIN_MEMORY_MB} to "
                f"{MAX_MEMORY_MB}; got {self.memory_size!r}."
            )
        if not isinstance(self.timeout, int) or not MIN_TIMEOUT_S <= self.timeout <= MAX_TIMEOUT_S:
            raise ConfigError(
                f"Timeout must be a whole number of seconds from {MIN_TIMEOUT_S} to "
                f"{MAX_TIMEOUT_S}; got {self.timeout!r}."
            )
        # A custom runtime's bootstrap reads _HANDLER as it likes: AWS takes any handler string for it.
        if not self.runtime.startswith("provided") and (
            "." not in self.handler or self.handler.startswith(".") or self.handler.endswith(".")
        ):
            raise ConfigError(
                f"Handler must look like 'file.function' (the console's default is "
                f"'{DEFAULT_HANDLER}'); got {self.handler!r}."
            )
        if self.architecture not in ("x86_64", "arm64"):
            raise ConfigError(f"Architecture must be x86_64 or arm64; got {self.architecture!r}.")
        if not 0 <= self.maximum_retry_attempts <= 2:
            raise ConfigError(
                f"Maximum retry attempts must be 0, 1 or 2; got {self.maximum_retry_attempts!r}."
            )
        if not 60 <= self.maximum_event_age_s <= 21_600:
            raise ConfigError(
                f"Maximum event age must be from 60 to 21600 seconds; got {self.maximum_event_age_s!r}."
            )
        if not 1 <= self.reserved_concurrency <= 1000:
            raise ConfigError(
                f"Reserved concurrency must be from 1 to 1000; got {self.reserved_concurrency!r}."
            )
        for key, value in self.environment.items():
            if key in RESERVED_ENV_KEYS:
                raise ConfigError(
                    f"Lambda was unable to configure your environment variables because the "
                    f"environment variables you have provided contains reserved keys that "
                    f"are currently not supported for modification. Reserved keys used in "
                    f"this request: {key}"
                )
            if not _ENV_KEY.match(key) or not isinstance(value, str):
                raise ConfigError(
                    f"Environment variable names must start with a letter and use only letters, "
                    f"digits and '_', and values must be strings; got {key!r}."
                )

    def replace(self, **changes) -> FunctionConfiguration:
        """A changed copy (validated), one revision newer."""
        changes.setdefault("revision", self.revision + 1)
        return dataclasses.replace(self, **changes)


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 4566  # the local AWS endpoint port that tools such as awslocal expect
    web_port: int | None = 8000  # None: no page
    region: str = DEFAULT_REGION
    source_bucket: str = SOURCE_BUCKET
    destination_bucket: str = DESTINATION_BUCKET
    # AWS retries a failed asynchronous invocation after about 1 and then 2 minutes; the sandbox
    # compresses that to 1 and 2 seconds unless --real-retry-delays.
    real_retry_delays: bool = False
    idle_timeout_s: float = 300.0  # idle environments are shut down after this (AWS: unspecified, minutes)
    init_timeout_s: float = 10.0  # AWS caps the INIT phase at 10 s
    terminal_logs: bool = False  # live tail of the function's logs on stdout
    hot_reload: bool = True  # saving a file in the code directory retires warm environments
    python: str | None = None  # interpreter for workers; None = the one running the sandbox
    # The runtime client in each environment: the sandbox's own bootstrap, or AWS's awslambdaric
    # (Linux; `pip install awslambdaric`), which talks to the same Runtime API.
    runtime_client: str = "bootstrap"
    # Who may use the local endpoint (sandbox/endpoint/access.py): web-page origins besides the sandbox's
    # own page (--allow-origin), and the token that clients on other machines must send as their access
    # key id when the sandbox listens beyond loopback (--host 0.0.0.0).
    allowed_origins: tuple = ()
    access_token: str | None = None
    moto_api: bool = False  # --moto-api: serve moto's /moto-api/ (reset, recorder, replay) on the endpoint
    # False (the default): each execution environment gets its memory's share of a CPU, as on AWS
    # (memory / 1,769 MB of a vCPU), so Duration, timeouts and cost mean what they would there. True
    # (--full-cpu, or the page's setting): every environment may use the whole machine - raw local speed.
    full_cpu: bool = False
    # The clock of scheduled rules runs this many times faster than real time (--time-scale 60: a minute
    # per second), so a class can watch cron(0 3 * * ? *) fire; 1 is the real UTC clock, as on AWS.
    time_scale: float = 1.0
    # Where state is kept across restarts (--state-dir; sandbox/state/), or None: in memory only, as the
    # tests, notebooks and bench use it. ``fresh`` deletes it first; ``salvage`` restores what can be read
    # of a damaged one.
    state_dir: str | None = None
    fresh: bool = False
    salvage: bool = False
    # run_local.py --debug FUNCTION[:PORT]: a debugging.Debugging, whose functions run under debugpy (each
    # debugged function's runtime opens its debugger port while registered); None: nothing is debugged.
    debug: object = None
    # --env-vars env.json: an env_vars_file.EnvVarsFile, SAM CLI's overrides; None: none.
    env_vars_file: object = None

    def validate(self) -> None:
        if not (isinstance(self.time_scale, (int, float)) and 0 < self.time_scale <= 86_400):
            raise ConfigError(
                f"--time-scale must be a number above 0 and at most 86400 (a day per second); "
                f"got {self.time_scale!r}."
            )
        if self.runtime_client not in ("bootstrap", "awslambdaric"):
            raise ConfigError(
                f"The runtime client must be 'bootstrap' or 'awslambdaric'; got {self.runtime_client!r}."
            )
        for name in ("port", "web_port"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 65535:
                raise ConfigError(
                    f"--{name.replace('_', '-')} must be a port number from 0 to 65535; got {value}."
                )
