"""The whole environment of an execution environment's process, built in one place.

Precedence (lowest first), as on AWS:
1. a minimal base from the host (PATH, temp and locale settings; nothing else leaks in);
2. the function's own ``Environment.Variables`` (reserved keys are refused when configured);
3. what Lambda sets and the function cannot override: ``AWS_LAMBDA_FUNCTION_NAME`` and friends, the
   role's temporary credentials, ``_HANDLER``, ``AWS_LAMBDA_RUNTIME_API``;
4. what only the sandbox sets: ``AWS_ENDPOINT_URL`` (so unchanged boto3 code talks to the local endpoint;
   on AWS it is absent and boto3 uses the real one) and ``TMPDIR`` (AWS gives each environment its own
   ``/tmp``; the sandbox gives each one its own temporary folder). See docs/execution-environment.md.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from sandbox.config import ACCOUNT_ID, FunctionConfiguration

_BASE_KEYS = (
    "PATH",
    "SYSTEMROOT",
    "COMSPEC",
    "PATHEXT",
    "WINDIR",
    "LANG",
    "LC_ALL",
    "HOME",
    "USERPROFILE",
    "LD_LIBRARY_PATH",
)


@dataclass(frozen=True)
class RoleCredentials:
    """The execution role's temporary credentials. AWS puts real STS credentials here; moto accepts any,
    and the sandbox uses recognisable ones so writes made by a function can be told apart."""

    access_key_id: str = "ASIASANDBOXEXAMPLE01"
    secret_access_key: str = "sandbox-secret-access-key"
    session_token: str = "sandbox-session-token"


RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def runtime_packages_dir(folder: Path) -> Path:
    """A folder holding only what AWS's python3.12 runtime ships besides the standard library: boto3
    and what it needs (links to the sandbox's own copies). A function deployed with layers sees these,
    its code and its layers — not Pillow or anything else installed next to the sandbox."""
    import importlib.util

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        target = folder / source.name
        if target.exists():
            continue
        try:
            target.symlink_to(source, target_is_directory=source.is_dir())
        except OSError:  # Windows without symlink rights: copy instead
            import shutil

            shutil.copytree(source, target) if source.is_dir() else shutil.copy2(source, target)
    return folder


def build_environment(
    function: FunctionConfiguration,
    *,
    runtime_api: str,
    log_stream: str,
    endpoint_url: str,
    region: str,
    tmp_dir: str,
    runtime_dir: str,
    credentials: RoleCredentials = RoleCredentials(),
    runtime_packages: str | None = None,
    host_environ: dict | None = None,
) -> dict[str, str]:
    host = os.environ if host_environ is None else host_environ
    env = {key: host[key] for key in _BASE_KEYS if key in host}
    env.update(function.environment)
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": function.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            "AWS_SESSION_TOKEN": credentials.session_token,
            "LAMBDA_TASK_ROOT": str(Path(function.code_dir).resolve()),
            "LAMBDA_RUNTIME_DIR": runtime_dir,
            "_HANDLER": function.handler,
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "AWS_ENDPOINT_URL": endpoint_url,
            "TMPDIR": tmp_dir,
            "TEMP": tmp_dir,
            "TMP": tmp_dir,
            "SANDBOX_ACCOUNT_ID": ACCOUNT_ID,
        }
    )
    layer_paths = []
    for layer in function.layers:
        # A layer's python/ (or python/lib/python3.X/site-packages/) is on sys.path, as /opt/python is.
        root = Path(layer) / "python"
        layer_paths += [str(p) for p in sorted(root.glob("lib/python3*/site-packages"))] + [str(root)]
    if layer_paths:
        env["SANDBOX_LAYER_PATHS"] = os.pathsep.join(layer_paths)
    if function.strict_imports and runtime_packages:
        env["SANDBOX_RUNTIME_PATHS"] = runtime_packages
    if sys.platform == "win32":
        env.pop("TZ", None)  # Windows' C runtime does not understand ":UTC"
    return env
