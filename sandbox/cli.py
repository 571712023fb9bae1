"""``run_local.py``: start the sandbox, or one of its tools. ``run_local.py --help`` lists them all."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from .config import (DEFAULT_HANDLER, parse_env_pairs, FUNCTION_NAME, PROJECT_ROOT, SOURCE_BUCKET,
                     FunctionConfiguration, SandboxConfig)
from .endpoint_access import new_access_token
from .errors import SandboxError
from .host_names import is_loopback_name, normalise_name

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"

EPILOG = """examples:
  run_local.py                                  start the sandbox (endpoint :4566, page :8000)
  run_local.py --watch drop/ --open             ... upload every file dropped into drop/, open the page
  run_local.py --code-dir my_handler --handler lambda_function.lambda_handler
  run_local.py upload sample_images/            upload files to a running sandbox, print each result
  run_local.py invoke --event events/put.json   one synchronous invocation, result and log lines
  run_local.py generate-event s3-put --bucket source-image-bucket123 --key test.jpg
  run_local.py redrive                          re-submit dead-lettered events
  run_local.py bench                            measure start-up, latency, throughput
  run_local.py package                          build function.zip and pillow-layer.zip for AWS
  run_local.py deploy [--aws] [--dry-run]       the guide's 4 steps with boto3 (the sandbox if running, else AWS)
  run_local.py destroy [--aws] [--delete-buckets]  remove what deploy created
"""


def add_function_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("function (the console's Configuration tab)")
    group.add_argument("--code-dir", default=str(PROJECT_ROOT / "handler"),
                       help="folder holding the function's code, deployed as its task root (default: handler/)")
    group.add_argument("--handler", default=DEFAULT_HANDLER,
                       help=f"file.function to call (default: {DEFAULT_HANDLER})")
    group.add_argument("--memory", type=int, default=128, help="memory size in MB, 128-10240 (default: 128)")
    group.add_argument("--timeout", type=int, default=3, help="timeout in seconds, 1-900 (default: 3)")
    group.add_argument("--env", action="append", metavar="KEY=VALUE",
                       help="an environment variable of the function (repeatable), e.g. --env SCALE=0.25")
    group.add_argument("--concurrency", type=int, default=10,
                       help="reserved concurrency: most environments at once (default: 10)")
    group.add_argument("--retries", type=int, default=2, choices=(0, 1, 2),
                       help="maximum retry attempts of a failed asynchronous invocation (default: 2)")


def function_from_args(args) -> FunctionConfiguration:
    return FunctionConfiguration(
        code_dir=Path(args.code_dir), handler=args.handler, memory_size=args.memory, timeout=args.timeout,
        environment=parse_env_pairs(args.env), reserved_concurrency=args.concurrency,
        maximum_retry_attempts=args.retries)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_local.py", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="A local, Docker-free AWS Lambda sandbox: S3 uploads to source-image-bucket123 run "
                    "ImageResizeLambda (handler/) in Lambda-like execution environments.")
    parser.add_argument("--port", type=int, default=4566, help="local AWS endpoint port (default: 4566)")
    parser.add_argument("--web-port", type=int, default=8000, help="the page's port (default: 8000)")
    parser.add_argument("--no-web", action="store_true", help="do not serve the page")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only; e.g. 0.0.0.0 "
                             "shares the sandbox with a classroom: clients then need its access token)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                        help="let the web page at this origin (e.g. http://localhost:3000, your own front "
                             "end) use the endpoint; S3 then answers it per the bucket's CORS configuration "
                             "(repeatable; default: only the sandbox's own page)")
    parser.add_argument("--token", metavar="TOKEN",
                        help="with --host beyond loopback: the access token clients on other machines must "
                             "use as AWS_ACCESS_KEY_ID (default: a new random one each start)")
    parser.add_argument("--open", action="store_true", help="open the page in a browser once ready")
    parser.add_argument("--watch", metavar="DIR", help="upload every file dropped into DIR to the source bucket")
    parser.add_argument("--real-retry-delays", action="store_true",
                        help="retry failed asynchronous invocations after 1 and 2 minutes, as AWS does "
                             "(default: after 1 and 2 seconds)")
    parser.add_argument("--idle-timeout", type=float, default=300.0,
                        help="seconds an idle execution environment is kept (default: 300)")
    parser.add_argument("--max-upload-mb", type=float, default=25.0, help="the page's upload limit (default: 25)")
    parser.add_argument("--quiet", action="store_true", help="no live tail of the function's logs")
    add_function_options(parser)
    parser.set_defaults(func=cmd_serve)

    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("invoke", help="one synchronous invocation, printing the result and the log lines",
                       description="Invoke the function once with an event file, like `sam local invoke -e`. "
                                   "With a sandbox running at --endpoint-url it runs there (through the Lambda "
                                   "Invoke API); otherwise a temporary sandbox is started for it.")
    p.add_argument("--event", required=True, help="JSON file with the event ('-' for standard input)")
    p.add_argument("--function-name", default=FUNCTION_NAME)
    p.add_argument("--endpoint-url", default=DEFAULT_ENDPOINT)
    add_function_options(p)
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser("generate-event", help="print a complete sample event",
                       description="Print an event exactly as AWS sends it, like `sam local generate-event`.")
    p.add_argument("kind", choices=["s3-put"])
    p.add_argument("--bucket", default=SOURCE_BUCKET)
    p.add_argument("--key", default="test.jpg")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--region", default="us-east-1")
    p.set_defaults(func=cmd_generate_event)

    p = sub.add_parser("upload", help="upload files or folders to a running sandbox and print each result",
                       description="Upload files (folders are walked) to the source bucket of a running "
                                   "sandbox with a progress bar, then wait for and print each file's result.")
    p.add_argument("paths", nargs="+")
    p.add_argument("--endpoint-url", default=DEFAULT_ENDPOINT)
    p.add_argument("--bucket", default=SOURCE_BUCKET)
    p.add_argument("--prefix", default="", help="key prefix, e.g. photos/")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for each result (default: 30)")
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser("redrive", help="re-submit the events in the dead-letter queue",
                       description="Re-submit dead-lettered events of a running sandbox as new asynchronous "
                                   "invocations.")
    p.add_argument("--endpoint-url", default=DEFAULT_ENDPOINT)
    p.add_argument("--function-name", default=FUNCTION_NAME)
    p.set_defaults(func=cmd_redrive)

    p = sub.add_parser("bench", help="measure start-up, latency and throughput; prints figures")
    p.add_argument("--only", choices=["pipeline", "runtime", "image"], action="append",
                   help="run only these parts (repeatable)")
    p.add_argument("--uploads", type=int, default=20, help="warm uploads to time (default: 20)")
    p.set_defaults(func=cmd_bench)

    try:
        from . import packaging
        packaging.add_subcommand(sub)
    except ImportError:
        pass
    try:
        from . import deploy
        deploy.add_subcommands(sub)
    except ImportError:
        pass
    return parser


# -- serve ------------------------------------------------------------------------------------------
class TerminalTail:
    """A readable live tail of the function's logs on the terminal."""

    COLORS = {"platform": "\033[2m", "error": "\033[31m", "function": ""}

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.color = stream.isatty() and os.environ.get("NO_COLOR") is None
        self._lock = threading.Lock()

    def __call__(self, event) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(event.timestamp_ms / 1000))
        env = event.stream.rsplit("]", 1)[-1][:6]
        text = event.message.rstrip("\t").replace("\t", "  ")
        lines = text.split("\n")
        prefix = f"{stamp} {env} "
        body = ("\n" + " " * len(prefix)).join(lines)
        if self.color and self.COLORS.get(event.kind):
            body = f"{self.COLORS[event.kind]}{body}\033[0m"
        with self._lock:
            self.stream.write(prefix + body + "\n")
            self.stream.flush()


def cmd_serve(args) -> int:
    from .core import Sandbox

    token = None
    if not is_loopback_name(normalise_name(args.host)):
        token = args.token or new_access_token()
        print(f"warning: listening on {args.host}: anyone who can reach this machine can reach the sandbox, "
              f"and a function can run any code on it. Clients on other machines must use the access "
              f"token as AWS_ACCESS_KEY_ID (shown below); use the default --host 127.0.0.1 unless you "
              f"mean to share it.", file=sys.stderr)
    elif args.token:
        raise SandboxError("--token is for a sandbox shared on the network (--host 0.0.0.0 or another "
                           "address); on 127.0.0.1 only this machine can reach it.")
    config = SandboxConfig(host=args.host, port=args.port, web_port=None if args.no_web else args.web_port,
                           real_retry_delays=args.real_retry_delays,
                           idle_timeout_s=args.idle_timeout, terminal_logs=not args.quiet,
                           allowed_origins=tuple(args.allow_origin), access_token=token)
    function = function_from_args(args)
    started = time.perf_counter()
    sandbox = Sandbox(config, function)
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, on_signal)
    web = watcher = None
    try:
        sandbox.start()
        if config.web_port is not None:
            web = _start_web(sandbox, config, args)
        if args.watch:
            from .watched_folder import WatchedFolder

            watcher = WatchedFolder(Path(args.watch), lambda path, key: sandbox.s3.upload_file(
                str(path), config.source_bucket, key)).start()
        if config.terminal_logs:
            sandbox.logs.subscribe(TerminalTail())
        _print_banner(sandbox, web, args, time.perf_counter() - started)
        if args.open and web is not None:
            import webbrowser
            webbrowser.open(web.url)
        while not stopping.wait(0.5):
            pass
        print("\nstopping…", flush=True)
    finally:
        for part in (watcher, web):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    pass
        sandbox.stop()
    _print_session_cost(sandbox)
    return 0


def _start_web(sandbox, config, args):
    from web.server import serve

    return serve(sandbox, host=config.host, port=config.web_port, max_upload_mb=args.max_upload_mb)


def _print_banner(sandbox, web, args, seconds: float) -> None:
    function = sandbox.function
    env = sandbox.client_environment()
    shell = "\n".join(f"  export {k}={v}" for k, v in env.items())
    powershell = "\n".join(f"  $env:{k}=\"{v}\"" for k, v in env.items())
    page = web.url if web is not None else "(disabled)"
    print(f"""Lambda sandbox — {function.function_name} ({function.handler} in {function.code_dir})
  local AWS endpoint : {sandbox.endpoint_url}   (S3, Lambda, IAM, CloudWatch Logs, CloudWatch, SQS)
  page               : {page}
  trigger            : s3://{sandbox.config.source_bucket} (s3:ObjectCreated:*) -> {function.function_name} -> s3://{sandbox.config.destination_bucket}
  memory / timeout   : {function.memory_size} MB / {function.timeout} s    runtime {function.runtime} (run by this Python {sys.version.split()[0]})
  retries            : {function.maximum_retry_attempts}, after {'1 and 2 minutes (as AWS)' if sandbox.config.real_retry_delays else '1 and 2 seconds (AWS: 1 and 2 minutes; --real-retry-delays)'}
{"  watching           : " + str(Path(args.watch).resolve()) if args.watch else ""}
Paste into another terminal so the AWS CLI and boto3 use the sandbox (bash/zsh):
{shell}
  (PowerShell)
{powershell}
{_access_lines(sandbox)}
Then:  aws s3 cp sample_images/test.jpg s3://{sandbox.config.source_bucket}/test.jpg
       aws s3 ls s3://{sandbox.config.destination_bucket}/
       aws logs filter-log-events --log-group-name /aws/lambda/{function.function_name}
ready in {seconds:.2f} s — Ctrl-C stops everything.""", flush=True)


def _access_lines(sandbox) -> str:
    access = sandbox.access
    if not access.shared_on_network:
        extra = ", ".join(sorted(o for o in access.allowed_origins if not is_loopback_origin(o)))
        return ("Only this machine can reach the sandbox; web pages of other origins are refused"
                + (f" (allowed: {extra})." if extra else " (--allow-origin URL adds your front end)."))
    port = sandbox.endpoint.port
    return (f"Shared on the network. On another machine (use this machine's address):\n"
            f"  export AWS_ENDPOINT_URL=http://<this-machine>:{port}\n"
            f"  export AWS_ACCESS_KEY_ID={access.access_token}   # the access token; without it: AccessDenied\n"
            f"  export AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={sandbox.config.region}")


def is_loopback_origin(origin: str) -> bool:
    from urllib.parse import urlsplit

    return is_loopback_name(urlsplit(origin).hostname or "")


def _print_session_cost(sandbox) -> None:
    cost = sandbox.cost
    print(f"session: {cost.requests} invocations, {cost.gb_seconds:.4f} GB-s, "
          f"${cost.total_usd:.8f} on AWS before the free tier, ${cost.with_free_tier():.2f} with it.")


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

        client = boto3.client("lambda", endpoint_url=args.endpoint_url, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
        response = client.invoke(FunctionName=args.function_name, Payload=json.dumps(event).encode(),
                                 LogType="Tail")
        logs = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
        print(logs.rstrip("\n"))
        payload = response["Payload"].read().decode("utf-8", "replace")
        print(payload)
        return 1 if response.get("FunctionError") else 0
    from .core import Sandbox

    print(f"(no sandbox at {args.endpoint_url}: starting a temporary one)", file=sys.stderr)
    config = SandboxConfig(port=0, web_port=None)
    with Sandbox(config, function_from_args(args)) as sandbox:
        record = sandbox.invoke(event, trigger="cli")
        sandbox.logs.flush()
        for line in sandbox.log_events(request_id=None):
            print(line.message.rstrip("\t"))
        print(json.dumps(record.result))
    return 0 if record.status == "success" else 1


# -- generate-event -----------------------------------------------------------------------------------
def cmd_generate_event(args) -> int:
    from .s3_events import sample_put_event

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
    s3 = boto3.client("s3", endpoint_url=args.endpoint_url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
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
        elif record["status"] == "success":
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
def cmd_bench(args) -> int:
    from .bench.runner import run_all

    run_all(only=args.only, uploads=args.uploads)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
