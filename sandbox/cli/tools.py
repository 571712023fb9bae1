"""``run_local.py invoke | generate-event | upload | redrive | bench``: tools for a running sandbox (or a
temporary one)."""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..config import ACCOUNT_ID, DEFAULT_REGION, LOCAL_CREDENTIALS, SandboxConfig
from ..errors import SandboxError
from ..invocation import InvocationStatus

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
    event = _read_event(args.event)
    if _running_sandbox(args.endpoint_url):
        import base64

        import boto3

        client = boto3.client("lambda", endpoint_url=args.endpoint_url, region_name=DEFAULT_REGION,
                              **LOCAL_CREDENTIALS)
        response = client.invoke(FunctionName=args.function_name, Payload=json.dumps(event).encode(),
                                 LogType="Tail")
        logs = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
        print(logs.rstrip("\n"))
        payload = response["Payload"].read().decode("utf-8", "replace")
        print(payload)
        return 1 if response.get("FunctionError") else 0
    from ..core import Sandbox
    from . import function_from_args

    print(f"(no sandbox at {args.endpoint_url}: starting a temporary one)", file=sys.stderr)
    config = SandboxConfig(port=0, web_port=None, full_cpu=args.full_cpu)
    with Sandbox(config, function_from_args(args)) as sandbox:
        record = sandbox.invoke(event, trigger="cli")
        sandbox.logs.flush()
        for line in sandbox.log_events(request_id=None):
            print(line.message.rstrip("\t"))
        print(json.dumps(record.result))
    return 0 if record.status == InvocationStatus.SUCCESS else 1


# -- generate-event -----------------------------------------------------------------------------------
def cmd_generate_event(args) -> int:
    if args.kind == "sqs-receive-message":
        from ..event_sources.sqs import sample_receive_message_event

        print(json.dumps(sample_receive_message_event(args.queue, args.body, args.region, ACCOUNT_ID), indent=2))
        return 0
    if args.kind == "dynamodb-update":
        from ..event_sources.dynamodb_streams import sample_update_event

        print(json.dumps(sample_update_event(args.table, args.region, ACCOUNT_ID), indent=2))
        return 0
    if args.kind.startswith("apigateway-"):
        from ..event_sources.api_gateway import sample_event

        body = args.body if args.method.upper() not in ("GET", "HEAD") else None
        print(json.dumps(sample_event(args.kind[len("apigateway-"):], args.method, args.path, body), indent=2))
        return 0
    if args.kind == "lambda-url":
        from ..event_sources.function_urls import sample_event as url_event

        body = args.body if args.method.upper() not in ("GET", "HEAD") else None
        print(json.dumps(url_event(args.method, args.path, body, args.auth_type), indent=2))
        return 0
    if args.kind == "scheduled":
        from .schedule_commands import sample_scheduled_event

        print(json.dumps(sample_scheduled_event(args.rule, args.region, args.event_time), indent=2))
        return 0
    from ..s3_events import sample_put_event

    print(json.dumps(sample_put_event(args.bucket, args.key, args.size, args.region), indent=2))
    return 0


# -- upload -----------------------------------------------------------------------------------------
def _files(paths: list[str]) -> list[tuple[Path, str]]:
    found = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not child.name.startswith("."):
                    found.append((child, child.relative_to(path).as_posix()))
        elif path.is_file():
            found.append((path, path.name))
        else:
            raise SandboxError(f"{item} is not a file or folder.")
    return found


def cmd_upload(args) -> int:
    import boto3
    from tqdm import tqdm

    if not _running_sandbox(args.endpoint_url):
        raise SandboxError(f"No sandbox is running at {args.endpoint_url}; start one with `make run` "
                           f"(or `python run_local.py`) first.")
    files = _files(args.paths)
    s3 = boto3.client("s3", endpoint_url=args.endpoint_url, region_name=DEFAULT_REGION, **LOCAL_CREDENTIALS)
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
            print(f"{key}: {record['status']} — {record.get('error_type') or ''} {record.get('error_message') or ''}".rstrip())
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
                parts.append(f"{item.get('outputKey')} ({item.get('width')}x{item.get('height')}, "
                             f"{item.get('bytes', 0):,} bytes)")
            else:
                parts.append(f"{item.get('status')}: {item.get('reason')}")
        return "; ".join(parts) + f"  [{record['duration_ms']} ms]"
    return f"done in {record['duration_ms']} ms: {json.dumps(result)[:200]}"


def _wait_result(endpoint_url: str, key: str, since: float, timeout: float) -> dict | None:
    from urllib.parse import quote

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint_url}/_sandbox/invocations?key={quote(key)}", timeout=2) as r:
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
        extra = "  ".join(f"{k.replace('_', ' ')}: {item[k]}" for k in ("url", "next_fire", "last_result") if item.get(k))
        print(f"{item.get('function') or '-':<24} {item['kind']:<18} {item['source']}\n"
              f"{'':<24} {item['state']:<18} {item['detail']}" + (f"\n{'':<43} {extra}" if extra else ""))
    return 0


# -- redrive ----------------------------------------------------------------------------------------
def cmd_redrive(args) -> int:
    if not _running_sandbox(args.endpoint_url):
        raise SandboxError(f"No sandbox is running at {args.endpoint_url}; start one with `make run` first.")
    request = urllib.request.Request(f"{args.endpoint_url}/_sandbox/redrive?function={args.function_name}",
                                     method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as response:
        result = json.loads(response.read())
    print(f"re-submitted {len(result['redriven'])} dead-lettered event(s) to {args.function_name}")
    for item in result["redriven"]:
        print(f"  {item['request_id']}  {item.get('key') or ''}")
    return 0


# -- bench ------------------------------------------------------------------------------------------
def cmd_reset(args) -> int:
    """Delete the state a state directory keeps: its own, and each stack's folder in it."""
    from ..state import reset

    from ..state.store import own_directory

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
    from ..bench.runner import run_all

    run_all(only=args.only, uploads=args.uploads)
    return 0

