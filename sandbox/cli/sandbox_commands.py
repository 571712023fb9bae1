"""``run_local.py invoke | generate-event | upload | redrive | bench``: tools for a running sandbox (or a
temporary one)."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from sandbox.cli import debug_commands
from sandbox.config import DEFAULT_ENDPOINT_URL, DEFAULT_REGION, LOCAL_CREDENTIALS, SandboxConfig
from sandbox.errors import SandboxError
from sandbox.lambda_.invocation import InvocationStatus

# The commands' --endpoint-url: where the export lines of the banner point the AWS CLI, else the default.
ENDPOINT_URL = os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT_URL


# -- invoke -----------------------------------------------------------------------------------------
def _running_sandbox(endpoint_url: str) -> dict | None:
    try:
        with urllib.request.urlopen(endpoint_url.rstrip("/") + "/_sandbox/health", timeout=1) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _read_event(path: str) -> dict:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SandboxError(f"Cannot read the event file {path}: {exc.strerror}.") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SandboxError(f"The event file {path} is not valid JSON ({exc}).") from None


def cmd_invoke(args) -> int:
    event = _read_event(args.event) if args.event else None
    if _running_sandbox(args.endpoint_url):
        if args.debug is not None or args.env_vars:
            raise SandboxError(
                f"--debug and --env-vars are the sandbox's: a sandbox is running at "
                f"{args.endpoint_url}, so start it with them (run_local.py --debug ...)."
            )
        return _invoke(args.endpoint_url, args, event)
    from sandbox.cli import function_from_args
    from sandbox.core import Sandbox

    print(f"(no sandbox at {args.endpoint_url}: starting a temporary one)", file=sys.stderr)
    config = SandboxConfig(
        port=0,
        web_port=None,
        full_cpu=args.full_cpu,
        **debug_commands.sandbox_options(args, args.function_name),
    )
    with Sandbox(config, function_from_args(args)) as sandbox:
        if args.debug is None:
            return _invoke(sandbox.endpoint_url, args, event)
        # Held at a breakpoint for as long as the developer looks: invoked in-process, where no SDK's
        # read timeout (and retry) applies.
        debug_commands.started(sandbox, report=lambda note: print(note, file=sys.stderr))
        record = sandbox.invoke(event, trigger="cli")
        sandbox.logs.flush()
        for line in sandbox.log_events(request_id=None):
            print(line.message.rstrip("\t"))
        print(json.dumps(record.result))
    return 0 if record.status == InvocationStatus.SUCCESS else 1


def _invoke(endpoint_url: str, args, event: dict | None) -> int:
    """One synchronous Invoke through the Lambda API with ``LogType: Tail``: the log lines, then the
    result."""
    import base64

    import boto3

    if args.upload:
        event = _upload_for_invoke(endpoint_url, args)
    else:
        _say_missing_objects(endpoint_url, event)
    client = boto3.client(
        "lambda", endpoint_url=endpoint_url, region_name=DEFAULT_REGION, **LOCAL_CREDENTIALS
    )
    response = client.invoke(
        FunctionName=args.function_name, Payload=json.dumps(event).encode(), LogType="Tail"
    )
    logs = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
    print(logs.rstrip("\n"))
    print(response["Payload"].read().decode("utf-8", "replace"))
    return 1 if response.get("FunctionError") else 0


def _s3_objects(event) -> list[tuple[str, str]]:
    """(bucket, key) of each record of an S3 event (keys arrive form-encoded, as S3 sends them)."""
    from urllib.parse import unquote_plus

    records = event.get("Records") if isinstance(event, dict) else None
    found = []
    for record in records if isinstance(records, list) else []:
        s3 = record.get("s3") if isinstance(record, dict) else None
        if isinstance(s3, dict) and str(record.get("eventName", "")).startswith("ObjectCreated"):
            key = unquote_plus(s3.get("object", {}).get("key", ""))
            found.append((s3.get("bucket", {}).get("name", ""), key))
    return found


def _say_missing_objects(endpoint_url: str, event) -> None:
    """An S3 event names objects: say plainly, before invoking, which of them are not there."""
    from botocore.exceptions import ClientError

    s3 = _s3_client(endpoint_url)
    for bucket, key in _s3_objects(event):
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            print(
                f"warning: no such object: s3://{bucket}/{key} — upload it first, or use --upload FILE; "
                f"invoking anyway (the function will not find it)",
                file=sys.stderr,
                flush=True,
            )


def _upload_for_invoke(endpoint_url: str, args) -> dict:
    """invoke --upload FILE: upload it; into the source bucket the upload triggers the function as any
    upload does, so that run is waited for (it never overlaps the invocation); then the matching event."""
    from sandbox.config import SOURCE_BUCKET
    from sandbox.event_sources.s3.events import sample_put_event

    path = Path(args.upload)
    if not path.is_file():
        raise SandboxError(f"{path} is not a file.")
    key = args.key or path.name
    started = time.time()
    _s3_client(endpoint_url).upload_file(str(path), args.bucket, key)
    if args.bucket == SOURCE_BUCKET:
        print(
            f"(uploaded s3://{args.bucket}/{key}; its S3 trigger ran the function once, then:)",
            file=sys.stderr,
            flush=True,
        )
        _wait_result(endpoint_url, key, started, 120)
    return sample_put_event(args.bucket, key, path.stat().st_size)


def _s3_client(endpoint_url: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url, region_name=DEFAULT_REGION, **LOCAL_CREDENTIALS)


# -- generate-event -----------------------------------------------------------------------------------
def cmd_generate_event(args) -> int:
    from sandbox.event_sources import sample_event

    event = sample_event(
        args.kind,
        bucket=args.bucket,
        key=args.key,
        size=args.size,
        region=args.region,
        rule=args.rule,
        queue=args.queue,
        body=args.body,
        method=args.method,
        path=args.path,
        auth_type=args.auth_type,
        table=args.table,
        event_time=args.event_time,
        topic=args.topic,
        message=args.message,
        subject=args.subject,
        source=args.source,
        detail_type=args.detail_type,
        detail=args.detail,
    )
    print(json.dumps(event, indent=2))
    return 0


# -- upload -----------------------------------------------------------------------------------------
def _files(paths: list[str], every_file: bool = False) -> tuple[list[tuple[Path, str]], list[Path]]:
    """The files to upload with their keys, and the files of folders left out (not images, without
    ``every_file``). A file named on its own is always uploaded."""
    images = _image_suffixes()
    found, skipped = [], []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if not child.is_file() or child.name.startswith("."):
                    continue
                if every_file or child.suffix.lower() in images:
                    found.append((child, child.relative_to(path).as_posix()))
                else:
                    skipped.append(child)
        elif path.is_file():
            found.append((path, path.name))
        else:
            raise SandboxError(f"{item} is not a file or folder.")
    return found, skipped


def _image_suffixes() -> set[str]:
    """The file name extensions Pillow opens (.jpg, .png, .gif, .webp, .tif, ...)."""
    from PIL import Image

    return {suffix.lower() for suffix in Image.registered_extensions()}


def cmd_upload(args) -> int:
    from tqdm import tqdm

    if not _running_sandbox(args.endpoint_url):
        raise SandboxError(
            f"No sandbox is running at {args.endpoint_url}; start one with `make run` "
            f"(or `python run_local.py`) first."
        )
    files, skipped = _files(args.paths, args.all)
    if skipped:
        names = ", ".join(p.name for p in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        print(f"skipped {len(skipped)} file(s) that are not images: {names} (--all uploads them too)")
    if not files:
        raise SandboxError(f"No images to upload in {', '.join(args.paths)} (--all uploads every file).")
    s3 = _s3_client(args.endpoint_url)
    total = sum(p.stat().st_size for p, _ in files)
    started = time.time()
    keys = []
    with tqdm(total=total, unit="B", unit_scale=True, desc="uploading") as bar:
        for path, key in files:
            key = args.prefix + key
            s3.upload_file(str(path), args.bucket, key, Callback=bar.update)
            keys.append(key)
    failures = 0
    for key in keys:
        record = _wait_result(args.endpoint_url, key, started, args.wait)
        if record is None:
            print(f"{key}: no result after {args.wait:.0f} s (is the trigger configured?)")
            failures += 1
        elif record["status"] == InvocationStatus.SUCCESS:
            print(f"{key}: {_describe_success(record)}")
        else:
            failures += 1
            print(
                f"{key}: {record['status']} — {record.get('error_type') or ''} "
                f"{record.get('error_message') or ''}".rstrip()
            )
    return 1 if failures else 0


def _describe_success(record: dict) -> str:
    result = record.get("result") or {}
    body = result.get("body") if isinstance(result, dict) else None
    try:
        details = json.loads(body) if isinstance(body, str) else body
    except ValueError:
        details = body
    items = details.get("results") if isinstance(details, dict) else None
    if items:
        parts = []
        for item in items:
            if item.get("status") == "resized":
                parts.append(
                    f"{item.get('outputKey')} ({item.get('width')}x{item.get('height')}, "
                    f"{item.get('bytes', 0):,} bytes)"
                )
            else:
                parts.append(f"{item.get('status')}: {item.get('reason')}")
        return "; ".join(parts) + f"  [{record['duration_ms']} ms]"
    return f"done in {record['duration_ms']} ms: {json.dumps(result)[:200]}"


def _wait_result(endpoint_url: str, key: str, since: float, timeout: float) -> dict | None:
    from urllib.parse import quote

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(
                f"{endpoint_url}/_sandbox/invocations?key={quote(key)}", timeout=2
            ) as r:
                items = json.loads(r.read())["invocations"]
        except (urllib.error.URLError, OSError, ValueError):
            items = []
        latest: dict[str, dict] = {}  # the last attempt of each event (retries keep the request id)
        for item in items:
            if item["detected_at"] >= since - 1:
                known = latest.get(item["request_id"])
                if known is None or item["attempt"] > known["attempt"]:
                    latest[item["request_id"]] = item
        for item in sorted(latest.values(), key=lambda i: -i["detected_at"]):
            if item.get("final"):
                return item
        time.sleep(0.1)
    return None


# -- triggers ---------------------------------------------------------------------------------------
def cmd_triggers(args) -> int:
    """Every trigger of a running sandbox: S3 notifications, mappings (state, last result), APIs, rules."""
    if not _running_sandbox(args.endpoint_url):
        raise SandboxError(f"No sandbox is running at {args.endpoint_url}; start one with `make run` first.")
    with urllib.request.urlopen(f"{args.endpoint_url}/_sandbox/triggers", timeout=30) as response:
        triggers = json.loads(response.read())["triggers"]
    if not triggers:
        print("no triggers")
    for item in sorted(triggers, key=lambda t: (t.get("function") or "", t["kind"])):
        extra = "  ".join(
            f"{k.replace('_', ' ')}: {item[k]}"
            for k in ("url", "next_fire", "last_result", "faults")
            if item.get(k)
        )
        print(
            f"{item.get('function') or '-':<24} {item['kind']:<18} {item['source']}\n"
            f"{'':<24} {item['state']:<18} {item['detail']}" + (f"\n{'':<43} {extra}" if extra else "")
        )
    return 0


# -- redrive ----------------------------------------------------------------------------------------
def cmd_redrive(args) -> int:
    if not _running_sandbox(args.endpoint_url):
        raise SandboxError(f"No sandbox is running at {args.endpoint_url}; start one with `make run` first.")
    request = urllib.request.Request(
        f"{args.endpoint_url}/_sandbox/redrive?function={args.function_name}", method="POST", data=b""
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result = json.loads(response.read())
    print(f"re-submitted {len(result['redriven'])} dead-lettered event(s) to {args.function_name}")
    for item in result["redriven"]:
        print(f"  {item['request_id']}  {item.get('key') or ''}")
    return 0


# -- bench ------------------------------------------------------------------------------------------
def cmd_reset(args) -> int:
    """Delete the state a state directory keeps: its own, and each stack's folder in it."""
    from sandbox.state import reset
    from sandbox.state.store import own_directory

    base = Path(args.state_dir)
    if base.exists():
        own_directory(base)  # another user's folders are not touched
    folders = [base] + (sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else [])
    removed = [folder for folder in folders if (folder / "state.sqlite3").exists() and reset(folder)]
    if not removed:
        print(f"Nothing to delete: no state in {base}.")
    for folder in removed:
        print(f"Deleted the state kept in {folder}.")
    return 0


def cmd_bench(args) -> int:
    from sandbox.tools.bench.runner import run_all

    run_all(only=args.only, uploads=args.uploads)
    return 0
