"""What to deploy (or destroy): the guide's names and the console's defaults, each overridable."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.config import (
    DEFAULT_ENDPOINT_URL,
    DEFAULT_HANDLER,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    DESTINATION_BUCKET,
    FUNCTION_NAME,
    LAYER_NAME,
    MAX_MEMORY_MB,
    MAX_TIMEOUT_S,
    MIN_MEMORY_MB,
    MIN_TIMEOUT_S,
    PROJECT_ROOT,
    ROLE_NAME,
    SOURCE_BUCKET,
)
from sandbox.tools.deploy.aws_errors import DeployError

ARCHITECTURES = ("x86_64", "arm64")  # Lambda's instruction set architectures; the console's default first
BUILD_MODES = ("missing", "always", "never")
TARGETS = ("sandbox", "endpoint", "aws")
DEFAULT_CODE_DIR = PROJECT_ROOT / "handler"
DEFAULT_BUILD_DIR = PROJECT_ROOT / "build"
# The options that name what deploy creates, as attributes; each has a flag of the same name (--role-name).
NAME_OPTIONS = ("function_name", "role_name", "layer_name", "source_bucket", "destination_bucket")


@dataclass
class DeployOptions:
    """What to deploy (or destroy). Defaults are the guide's names and the console's defaults."""

    function_name: str = FUNCTION_NAME
    role_name: str = ROLE_NAME
    layer_name: str = LAYER_NAME
    source_bucket: str = SOURCE_BUCKET
    destination_bucket: str = DESTINATION_BUCKET
    memory: int = DEFAULT_MEMORY_MB  # MB, the console's default
    timeout: int = DEFAULT_TIMEOUT_S  # seconds, the console's default
    architecture: str = ARCHITECTURES[0]
    handler: str = DEFAULT_HANDLER
    environment: dict = field(default_factory=dict)  # besides DESTINATION_BUCKET, which deploy sets
    least_privilege: bool = False
    use_layer: bool = True  # False: --no-layer, to rehearse the guide's most common mistake
    code_dir: Path = DEFAULT_CODE_DIR
    build_dir: Path = DEFAULT_BUILD_DIR
    function_zip: Path | None = None  # None: <build_dir>/function.zip, rebuilt from code_dir when stale
    layer_zip: Path | None = None  # None: the local twin for the sandbox, the Lambda-platform zip for AWS
    build: str = "missing"  # "missing": build what is missing; "always": rebuild; "never"
    dry_run: bool = False
    verbose: bool = False  # print every call as it is made
    target: str | None = (
        None  # "sandbox" | "endpoint" | "aws"; None: "sandbox" for a Sandbox object, else "aws"
    )
    target_label: str | None = None  # how the header names the target, e.g. "the sandbox at http://..."
    endpoint_url: str | None = None  # only for the commands printed at the end
    region: str | None = None  # None: the clients' region
    # destroy only
    delete_buckets: bool = False
    force: bool = False

    def validate(self) -> None:
        if not isinstance(self.memory, int) or not MIN_MEMORY_MB <= self.memory <= MAX_MEMORY_MB:
            raise DeployError(
                f"--memory must be a whole number of MB from {MIN_MEMORY_MB} to {MAX_MEMORY_MB}; "
                f"got {self.memory!r}."
            )
        if not isinstance(self.timeout, int) or not MIN_TIMEOUT_S <= self.timeout <= MAX_TIMEOUT_S:
            raise DeployError(
                f"--timeout must be a whole number of seconds from {MIN_TIMEOUT_S} to "
                f"{MAX_TIMEOUT_S}; got {self.timeout!r}."
            )
        if self.architecture not in ARCHITECTURES:
            raise DeployError(f"--arch must be {' or '.join(ARCHITECTURES)}; got {self.architecture!r}.")
        if self.build not in BUILD_MODES:
            raise DeployError(f"build must be 'missing', 'always' or 'never'; got {self.build!r}.")
        if self.target not in (None, *TARGETS):
            raise DeployError(f"target must be 'sandbox', 'endpoint' or 'aws'; got {self.target!r}.")
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", self.function_name):
            raise DeployError(
                f"--function-name may use letters, digits, '-' and '_' (at most 64); "
                f"got {self.function_name!r}."
            )
        if not re.fullmatch(r"[\w+=,.@-]{1,64}", self.role_name):
            raise DeployError(
                f"--role-name may use letters, digits and +=,.@_- (at most 64); got {self.role_name!r}."
            )
        for bucket in (self.source_bucket, self.destination_bucket):
            if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
                raise DeployError(
                    f"{bucket!r} is not a valid S3 bucket name (3-63 lower-case letters, digits, "
                    f"'.' and '-')."
                )

    def endpoint_flag(self) -> str:
        """``--endpoint-url URL`` when the endpoint is not the sandbox's default one, else ``""``."""
        if self.endpoint_url and self.endpoint_url != DEFAULT_ENDPOINT_URL:
            return f"--endpoint-url {self.endpoint_url}"
        return ""

    def cli_flags(self, target: str) -> str:
        """The flags that repeat this deploy's target and names on another command line (with a leading
        space)."""
        defaults = DeployOptions()
        flags = []
        if target == "aws":
            flags.append("--aws")
        elif self.endpoint_flag():
            flags.append(self.endpoint_flag())
        for attr in NAME_OPTIONS:
            if getattr(self, attr) != getattr(defaults, attr):
                flags.append(f"--{attr.replace('_', '-')} {getattr(self, attr)}")
        return (" " + " ".join(flags)) if flags else ""
