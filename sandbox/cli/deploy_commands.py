"""`run_local.py deploy` and `run_local.py destroy` on the command line: their flags, and running them.

Every default is the guide's name or the console's default, read from sandbox/config.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from sandbox.config import (
    DEFAULT_ENDPOINT_URL,
    DEFAULT_MEMORY_MB,
    DEFAULT_REGION,
    DEFAULT_TIMEOUT_S,
    DESTINATION_BUCKET,
    FUNCTION_NAME,
    LAMBDA_RUNTIME,
    LAYER_NAME,
    MAX_MEMORY_MB,
    MAX_TIMEOUT_S,
    MIN_MEMORY_MB,
    MIN_TIMEOUT_S,
    ROLE_NAME,
    SOURCE_BUCKET,
    parse_env_pairs,
)
from sandbox.errors import ConfigError, SandboxError
from sandbox.tools.deploy.aws_errors import DeployError
from sandbox.tools.deploy.options import ARCHITECTURES, DEFAULT_BUILD_DIR, DEFAULT_CODE_DIR, DeployOptions
from sandbox.tools.deploy.packages import FUNCTION_ZIP, LAYER_ZIP, LOCAL_LAYER_ZIP
from sandbox.tools.deploy.steps import deploy
from sandbox.tools.deploy.target import ResolvedTarget, resolve_target
from sandbox.tools.deploy.teardown import destroy


def _common_options(p: argparse.ArgumentParser) -> None:
    where = p.add_argument_group(
        f"target (default: the sandbox at {DEFAULT_ENDPOINT_URL.removeprefix('http://')} "
        f"if it is running, else AWS)"
    )
    where.add_argument(
        "--endpoint-url",
        default=None,
        help=f"a local endpoint, e.g. {DEFAULT_ENDPOINT_URL} (AWS_ENDPOINT_URL is honoured too)",
    )
    where.add_argument("--aws", action="store_true", help="target AWS even when a sandbox is running")
    where.add_argument("--profile", default=None, help="AWS profile (the normal credential chain otherwise)")
    where.add_argument(
        "--region", default=None, help=f"AWS region (default: the profile's; {DEFAULT_REGION} locally)"
    )
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
        "deploy",
        help="create or update the guide's role, function, layer and trigger (sandbox or AWS)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"Perform the guide's steps with boto3: (1) the IAM role, (2) the function from "
        f"build/{FUNCTION_ZIP}, (3) the Pillow layer, (4) the S3 trigger. Running it again updates "
        f"instead of failing.",
        epilog="examples:\n"
        "  run_local.py deploy                       into the running sandbox (a rehearsal)\n"
        "  run_local.py deploy --no-layer            ... without Pillow: the guide's classic mistake\n"
        "  run_local.py deploy --aws --dry-run       print the AWS calls, make none\n"
        "  run_local.py deploy --aws --profile dev --region eu-west-1 --least-privilege \\\n"
        "      --source-bucket my-uploads-123 --destination-bucket my-resized-123\n",
    )
    _common_options(p)
    fn = p.add_argument_group("function")
    fn.add_argument(
        "--memory",
        type=int,
        default=DEFAULT_MEMORY_MB,
        help=f"memory in MB, {MIN_MEMORY_MB}-{MAX_MEMORY_MB} (default: {DEFAULT_MEMORY_MB})",
    )
    fn.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_TIMEOUT_S,
        help=f"timeout in seconds, {MIN_TIMEOUT_S}-{MAX_TIMEOUT_S} (default: {DEFAULT_TIMEOUT_S})",
    )
    fn.add_argument(
        "--arch",
        default=ARCHITECTURES[0],
        choices=ARCHITECTURES,
        help=f"architecture (default: {ARCHITECTURES[0]})",
    )
    fn.add_argument(
        "--env",
        action="append",
        metavar="KEY=VALUE",
        help="an environment variable (repeatable); DESTINATION_BUCKET is set from --destination-bucket",
    )
    fn.add_argument(
        "--least-privilege",
        action="store_true",
        help="an inline policy (GetObject on the source, PutObject on the destination, its own logs) "
        "instead of the guide's AmazonS3FullAccess + AWSLambdaBasicExecutionRole",
    )
    fn.add_argument(
        "--no-layer",
        action="store_true",
        help="deploy without the Pillow layer, to rehearse Runtime.ImportModuleError",
    )
    pk = p.add_argument_group("packages")
    pk.add_argument(
        "--code-dir", default=str(DEFAULT_CODE_DIR), help="the function's code (default: handler/)"
    )
    pk.add_argument(
        "--build-dir", default=str(DEFAULT_BUILD_DIR), help="where the zips are (default: build/)"
    )
    pk.add_argument(
        "--function-zip", default=None, help=f"default: <build-dir>/{FUNCTION_ZIP}, rebuilt when stale"
    )
    pk.add_argument(
        "--layer-zip",
        default=None,
        help=f"default: <build-dir>/{LOCAL_LAYER_ZIP} (the local twin) for a sandbox, "
        f"<build-dir>/{LAYER_ZIP} (manylinux, {LAMBDA_RUNTIME}) for AWS",
    )
    build = pk.add_mutually_exclusive_group()
    build.add_argument(
        "--build", action="store_true", help="rebuild the zips first (default: build only missing ones)"
    )
    build.add_argument("--no-build", action="store_true", help="never build; fail if a zip is missing")
    p.set_defaults(func=run_deploy, deploy_command="deploy")

    d = subparsers.add_parser(
        "destroy",
        help="remove what deploy created (trigger, permission, function, layer versions, role)",
        description="Remove, in reverse order, what `deploy` created: the bucket notification entry and the "
        "invoke permission, the layer versions, the function, the role with its policies. Buckets "
        "only with --delete-buckets, and only if empty unless --force.",
    )
    _common_options(d)
    d.add_argument(
        "--delete-buckets", action="store_true", help="also delete the two buckets if they are empty"
    )
    d.add_argument("--force", action="store_true", help="with --delete-buckets: delete their objects first")
    d.set_defaults(func=run_destroy, deploy_command="destroy")


def _env_pairs(values) -> dict[str, str]:
    try:
        return parse_env_pairs(values)
    except ConfigError as exc:
        raise DeployError(str(exc)) from None


def _options_from_args(args: argparse.Namespace, target: ResolvedTarget) -> DeployOptions:
    options = DeployOptions(
        function_name=args.function_name,
        role_name=args.role_name,
        layer_name=args.layer_name,
        source_bucket=args.source_bucket,
        destination_bucket=args.destination_bucket,
        dry_run=args.dry_run,
        verbose=args.verbose,
        target=target.kind,
        target_label=target.label,
        region=target.region,
        endpoint_url=target.endpoint_url,
    )
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
