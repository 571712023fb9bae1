"""``run_local.py tune``: AWS Lambda Power Tuning, locally (sandbox/tools/power_tuning.py).

Runs in the sandbox at --endpoint-url when one is running there (through its Lambda API), otherwise in a
temporary one started with the function options (``--code-dir``, ``--timeout``, ...), as ``invoke`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sandbox.cli.sandbox_commands import ENDPOINT_URL
from sandbox.config import FUNCTION_NAME, SOURCE_BUCKET, SandboxConfig
from sandbox.errors import SandboxError
from sandbox.tools import power_tuning

DEFAULT_ROUNDS = 4  # so that two runs of `tune` on a quiet machine name the same sizes


def add_subcommand(sub, add_function_options) -> None:
    p = sub.add_parser(
        "tune",
        help="run the function at several memory sizes; time and cost for each, and which to choose",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Invoke the function at each memory size - one cold start, then --runs warm runs - and\n"
        "print Duration (p50, p90), billed duration and cost per invocation and per million,\n"
        "naming the cheapest, the fastest and a balanced size, as AWS Lambda Power Tuning does.\n"
        "Each size is held to its share of a CPU (memory / 1,769 MB), as on AWS.",
        epilog="examples:\n"
        "  run_local.py tune --upload sample_images/test.jpg\n"
        "  run_local.py tune --s3-key photo.jpg --memory-sizes 128,512,1024 --runs 10\n"
        "  run_local.py tune --code-dir tests/handlers/guide --timeout 30 --upload photo-12mp.jpg\n"
        "  run_local.py tune --event event.json --chart tune.png",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--event", help="JSON file with the event ('-' for standard input)")
    what.add_argument(
        "--s3-key", help="an object already in --bucket: the event is S3's ObjectCreated:Put for it"
    )
    what.add_argument(
        "--upload",
        metavar="FILE",
        help="upload FILE to --bucket first (key: its name, or --key) and use its S3 event",
    )
    p.add_argument("--key", help="with --upload: the key to upload as")
    p.add_argument("--bucket", default=SOURCE_BUCKET)
    p.add_argument("--function-name", default=FUNCTION_NAME)
    p.add_argument(
        "--memory-sizes",
        default=",".join(map(str, power_tuning.DEFAULT_MEMORY_SIZES)),
        help="comma-separated MB (default: Power Tuning's %(default)s)",
    )
    p.add_argument(
        "--runs",
        type=int,
        default=power_tuning.DEFAULT_RUNS,
        help="warm invocations per size, after one cold start (default: %(default)s)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        help="most rounds of --runs warm runs per size: another round while its Duration p50 "
        f"moves {power_tuning.STABLE_WITHIN * 100:.0f}%% or more "
        "(default: %(default)s; 1: one round)",
    )
    p.add_argument("--chart", metavar="PNG", help="also draw time and cost against memory into PNG")
    p.add_argument("--json", action="store_true", help="print the figures as JSON instead of the table")
    p.add_argument("--endpoint-url", default=ENDPOINT_URL)
    p.add_argument(
        "--full-cpu",
        action="store_true",
        help="in a temporary sandbox, run at this machine's full speed (not AWS's CPU share)",
    )
    add_function_options(p)
    p.set_defaults(func=cmd_tune)


def _sizes(text: str) -> list[int]:
    try:
        return power_tuning.check_memory_sizes(part for part in text.split(",") if part.strip())
    except ValueError:
        raise SandboxError(
            f"--memory-sizes takes MB separated by commas, e.g. 128,512,1024; got {text!r}."
        ) from None


def cmd_tune(args) -> int:
    from sandbox.cli.sandbox_commands import _running_sandbox

    sizes = _sizes(args.memory_sizes)
    running = _running_sandbox(args.endpoint_url)
    if running:
        return _tune(args, args.endpoint_url, sizes, bool(running.get("full_cpu")))
    from sandbox.cli import function_from_args
    from sandbox.core import Sandbox

    print(f"(no sandbox at {args.endpoint_url}: starting a temporary one)", file=sys.stderr)
    config = SandboxConfig(port=0, web_port=None, full_cpu=args.full_cpu)
    with Sandbox(config, function_from_args(args)) as sandbox:
        return _tune(args, sandbox.endpoint_url, sizes, config.full_cpu)


def _tune(args, endpoint_url: str, sizes: list[int], full_cpu: bool) -> int:
    from sandbox.cli.sandbox_commands import _read_event

    if args.event:
        event, summary = _read_event(args.event), f"the event in {args.event}"
    else:
        key = args.s3_key or args.key or Path(args.upload).name
        if args.upload:
            _stage_upload(endpoint_url, args, key, max(sizes))
        event, summary = _s3_event(endpoint_url, args.bucket, key), f"s3://{args.bucket}/{key}"
    result = power_tuning.tune(
        endpoint_url,
        args.function_name,
        event,
        sizes,
        args.runs,
        event_summary=summary,
        full_cpu=full_cpu,
        max_rounds=max(1, args.rounds),
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if args.json:
        print(
            json.dumps(
                {
                    "function": result.function_name,
                    "event": summary,
                    "full_cpu": full_cpu,
                    "sizes": result.as_rows(),
                    **{
                        k: getattr(result, k) and getattr(result, k).memory_mb
                        for k in ("cheapest", "fastest", "balanced")
                    },
                },
                indent=2,
            )
        )
    else:
        print(result.report())
    if args.chart:
        from sandbox.cli.tune_chart import save_chart

        save_chart(result, args.chart)
        print(f"chart: {args.chart}", file=sys.stderr)
    return 0 if result.candidates else 1


def _s3_event(endpoint_url: str, bucket: str, key: str) -> dict:
    from botocore.exceptions import ClientError

    from sandbox.event_sources.s3.events import sample_put_event

    try:
        size = _s3(endpoint_url).head_object(Bucket=bucket, Key=key)["ContentLength"]
    except ClientError:
        raise SandboxError(
            f"s3://{bucket}/{key} does not exist; upload it first (or use --upload FILE)."
        ) from None
    return sample_put_event(bucket, key, size)


def _stage_upload(endpoint_url: str, args, key: str, memory_mb: int) -> None:
    """Upload the file. Into the source bucket the upload triggers the function, as any upload does: it
    runs at the largest size to be tuned, so it ends quickly, and is waited for, so it never overlaps the
    measured runs."""
    from sandbox.cli.sandbox_commands import _wait_result

    path = Path(args.upload)
    if not path.is_file():
        raise SandboxError(f"{path} is not a file.")
    client = power_tuning.lambda_client(endpoint_url, 60)
    original = client.get_function_configuration(FunctionName=args.function_name)["MemorySize"]
    client.update_function_configuration(FunctionName=args.function_name, MemorySize=memory_mb)
    try:
        started = time.time()
        _s3(endpoint_url).upload_file(str(path), args.bucket, key)
        if args.bucket == SOURCE_BUCKET:
            _wait_result(endpoint_url, key, started, 120)
    finally:
        client.update_function_configuration(FunctionName=args.function_name, MemorySize=original)


def _s3(endpoint_url: str):
    import boto3

    from sandbox.config import DEFAULT_REGION, LOCAL_CREDENTIALS

    return boto3.client("s3", endpoint_url=endpoint_url, region_name=DEFAULT_REGION, **LOCAL_CREDENTIALS)
