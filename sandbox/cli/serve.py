"""``run_local.py`` (no command): start the sandbox and its page, print the banner, tail the logs."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from sandbox.cli import debug_commands
from sandbox.endpoint.access import new_access_token
from sandbox.errors import SandboxError
from sandbox.guide import example_setups as examples
from sandbox.host_names import is_loopback_name, normalise_name
from sandbox.lambda_.runtimes import local_runner


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


# Long on purpose: the start of `run_local.py`, step by step as the banner reports it (config, examples,
# watched folder, page, banner, wait); each step is a call, and their order is the point.
def cmd_serve(args) -> int:
    from sandbox.cli import function_from_args
    from sandbox.config import SandboxConfig
    from sandbox.core import Sandbox

    token = None
    if not is_loopback_name(normalise_name(args.host)):
        token = args.token or new_access_token()
        print(
            f"warning: listening on {args.host}: anyone who can reach this machine can reach the sandbox, "
            f"and a function can run any code on it. Clients on other machines must use the access "
            f"token as AWS_ACCESS_KEY_ID (shown below); use the default --host 127.0.0.1 unless you "
            f"mean to share it.",
            file=sys.stderr,
        )
    elif args.token:
        raise SandboxError(
            "--token is for a sandbox shared on the network (--host 0.0.0.0 or another "
            "address); on 127.0.0.1 only this machine can reach it."
        )
    config = SandboxConfig(
        host=args.host,
        port=args.port,
        web_port=None if args.no_web else args.web_port,
        real_retry_delays=args.real_retry_delays,
        idle_timeout_s=args.idle_timeout,
        terminal_logs=not args.quiet,
        allowed_origins=tuple(args.allow_origin),
        access_token=token,
        moto_api=args.moto_api,
        full_cpu=args.full_cpu,
        time_scale=args.time_scale,
        **debug_commands.sandbox_options(args),
    )
    started = time.perf_counter()
    stack = _template_stack(args, config)
    config.state_dir, config.fresh, config.salvage = _state_dir(args, stack), args.fresh, args.salvage
    sandbox = Sandbox(config, function_from_args(args), startup_stack=stack)
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, on_signal)
    web = watcher = None
    try:
        sandbox.start()
        debug_commands.started(sandbox)
        if args.example and sandbox.restored:  # they are in the restored state already: their lines too
            example_lines = (sandbox.persistence.load("banner/examples") or []) + [
                f"examples           : {', '.join(args.example)}, as the state directory kept them"
            ]
        else:
            example_lines = examples.set_up(sandbox, args.example) if args.example else []
            if example_lines and sandbox.persistence is not None:
                sandbox.persistence.save("banner/examples", example_lines)
        if config.web_port is not None:
            web = _start_web(sandbox, config, args)
        if args.watch:
            from sandbox.devloop.watched_folder import WatchedFolder

            watcher = WatchedFolder(
                Path(args.watch),
                lambda path, key: sandbox.s3.upload_file(str(path), config.source_bucket, key),
            ).start()
        if config.terminal_logs:
            sandbox.logs.subscribe(TerminalTail())
        _print_banner(
            sandbox,
            web,
            args,
            time.perf_counter() - started,
            list(example_lines) + debug_commands.banner_lines(sandbox),
        )
        # What start-up left to first use loads now, behind the banner, before the page asks for it.
        threading.Thread(
            target=sandbox.endpoint.load_deferred_services, name="load-services", daemon=True
        ).start()
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


def _state_dir(args, stack) -> str | None:
    """--state-dir DIR: each stack keeps its own folder in DIR (``guide``, ``template-<stack>``, with
    ``+examples-...``), so `make run` and `make run ARGS="--template ..."` never restore each other's."""
    if not args.state_dir:
        if args.fresh or args.salvage:
            raise SandboxError("--fresh and --salvage go with --state-dir DIR.")
        return None
    from sandbox.state.store import own_directory

    own_directory(args.state_dir)  # refused unless it is this user's alone (each stack's folder too)
    key = f"template-{stack.name}" if stack is not None else "guide"
    if args.example:
        key += "+examples-" + "-".join(sorted(set(args.example)))
    return str(Path(args.state_dir) / key)


def _state_line(sandbox) -> str:
    if sandbox.persistence is None:
        return "in memory only (--state-dir DIR keeps it across restarts)"
    line = sandbox.persistence.describe()
    if sandbox.persistence.skipped:
        line += f"; --salvage left out {len(sandbox.persistence.skipped)}: " + "; ".join(
            sandbox.persistence.skipped[:5]
        )
    return line


def _apart_line(sandbox, args) -> str:
    """--example and --template keep their state in a folder of their own: say so, and where the guide's
    (plain `make run`'s) uploads are, so they do not seem to have vanished."""
    if sandbox.persistence is None or not (args.example or args.template):
        return ""
    folder = Path(sandbox.config.state_dir)
    guide = folder.parent / "guide"
    return (
        f"\n                       kept apart from plain `make run`'s state (its uploads are in {guide}; "
        f"they are back when you start without --example/--template)"
    )


def _template_stack(args, config):
    """--template: the template's stack (read, expanded and checked now, before anything starts)."""
    if not args.template:
        if args.parameter_overrides or args.stack_name:
            raise SandboxError("--parameter-overrides and --stack-name go with --template FILE.")
        return None
    from sandbox.sam import TemplateStack, parse_parameter_overrides

    return TemplateStack.from_file(
        args.template, parse_parameter_overrides(args.parameter_overrides), args.stack_name, config.region
    )


def _application_lines(sandbox) -> list[str]:
    """The template's application (and, on a restored start, the other stacks the state kept): each
    function with its triggers, then its Outputs with local URLs. A stack restored from the state says so,
    and what changed since (its template, its parameters) comes first."""
    lines = []
    for application in sandbox.applications():
        origin = "" if application["origin"] == "run_local.py --template" else f", {application['origin']}"
        restored = application.get("restored")
        kept = ", restored from the state" if restored is not None else ""
        lines.append(
            f"template           : {application['template']} (stack {application['name']}{origin}{kept})"
        )
        lines += [f"  warning: {line}" for line in restored or []]
        for function in application["functions"]:
            lines.append(
                f"  {function['logical_id']} ({function['name']}, {function['handler']} in "
                f"{function['code']})"
            )
            lines += [f"    <- {trigger['summary']}" for trigger in function["triggers"]]
        if application["outputs"]:
            lines.append("Outputs:")
            lines += [f"  {o['key']:<19}: {o['value']}" for o in application["outputs"]]
        warnings = [line for line in application["warnings"] if line not in (restored or [])]
        lines += [f"note: {line}" for line in application["notes"] + warnings]
    return lines


def _start_web(sandbox, config, args):
    from web.server import serve

    return serve(sandbox, host=config.host, port=config.web_port, max_upload_mb=args.max_upload_mb)


def _print_banner(sandbox, web, args, seconds: float, example_lines: list[str] = ()) -> None:
    if args.template:
        example_lines = _application_lines(sandbox) + list(example_lines)
    function = sandbox.function
    env = sandbox.client_environment()
    shell = "\n".join(f"  export {k}={v}" for k, v in env.items())
    powershell = "\n".join(f'  $env:{k}="{v}"' for k, v in env.items())
    page = web.url if web is not None else "(disabled)"
    print(
        f"""Lambda sandbox — {function.function_name} ({function.handler} in {function.code_dir})
  local AWS endpoint : {sandbox.endpoint_url}   (S3, Lambda, IAM, CloudWatch Logs, CloudWatch, SQS, DynamoDB, EventBridge, API Gateway)
  page               : {page}
{"" if args.template else f"  trigger            : s3://{sandbox.config.source_bucket} (s3:ObjectCreated:*) -> {function.function_name} -> s3://{sandbox.config.destination_bucket}{chr(10)}"}  memory / timeout   : {function.memory_size} MB / {function.timeout} s    runtime {function.runtime} ({local_runner(function.runtime, sys.version.split()[0])})
  CPU                : {_cpu_line(sandbox)}
  state              : {_state_line(sandbox)}{_apart_line(sandbox, args)}
  retries            : {function.maximum_retry_attempts}, after {"1 and 2 minutes (as AWS)" if sandbox.config.real_retry_delays else "1 and 2 seconds (AWS: 1 and 2 minutes; --real-retry-delays)"}{_clock_line(sandbox)}
{"  watching           : " + str(Path(args.watch).resolve()) if args.watch else ""}{"".join(chr(10) + "  " + line for line in example_lines)}
Paste into another terminal so the AWS CLI and boto3 use the sandbox (bash/zsh):
{shell}
  (PowerShell)
{powershell}
{_access_lines(sandbox)}
{_then_lines(sandbox, args, function)}
ready in {seconds:.2f} s — Ctrl-C stops everything.""",  # noqa: E501 (the banner as printed)
        flush=True,
    )


def _then_lines(sandbox, args, function) -> str:
    if args.template:
        name = getattr(sandbox.startup_stack, "name", "") or (
            sandbox.applications()[0]["name"] if sandbox.applications() else ""
        )
        return (
            f"Then:  aws cloudformation describe-stack-resources --stack-name {name}\n"
            f"       aws logs filter-log-events --log-group-name /aws/lambda/{function.function_name}"
        )
    return (
        f"Then:  aws s3 cp sample_images/test.jpg s3://{sandbox.config.source_bucket}/test.jpg\n"
        f"       aws s3 ls s3://{sandbox.config.destination_bucket}/\n"
        f"       aws logs filter-log-events --log-group-name /aws/lambda/{function.function_name}"
    )


def _clock_line(sandbox) -> str:
    """Shown only when --time-scale makes the schedules' clock run faster than real time."""
    scale = sandbox.config.time_scale
    if scale == 1:
        return ""
    return (
        f"\n  schedules clock    : {scale:g}x FASTER than real time (--time-scale {scale:g}): scheduled "
        f"rules fire on a sandbox clock where a real second is {_sandbox_span(scale)}; AWS uses the real "
        "UTC clock"
    )


def _sandbox_span(scale: float) -> str:
    seconds = scale
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}{'s' if seconds != size else ''}"
    return f"{seconds:g} seconds"


def _cpu_line(sandbox) -> str:
    cpu = sandbox.cpu_share()
    if cpu["full_cpu"]:
        return cpu["text"] + " (--full-cpu)"
    return (
        cpu["text"]
        + " (--full-cpu: this machine's full speed)"
        + (f"\n                       note: {cpu['shortfall']}" if cpu["shortfall"] else "")
    )


def _access_lines(sandbox) -> str:
    access = sandbox.access
    if not access.shared_on_network:
        extra = ", ".join(sorted(o for o in access.allowed_origins if not is_loopback_origin(o)))
        return "Only this machine can reach the sandbox; web pages of other origins are refused" + (
            f" (allowed: {extra})." if extra else " (--allow-origin URL adds your front end)."
        )
    port = sandbox.endpoint.port
    return (
        f"Shared on the network. On another machine (use this machine's address):\n"
        f"  export AWS_ENDPOINT_URL=http://<this-machine>:{port}\n"
        f"  export AWS_ACCESS_KEY_ID={access.access_token}   # the access token; without it: AccessDenied\n"
        f"  export AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={sandbox.config.region}"
    )


def is_loopback_origin(origin: str) -> bool:
    from urllib.parse import urlsplit

    return is_loopback_name(urlsplit(origin).hostname or "")


def _print_session_cost(sandbox) -> None:
    cost = sandbox.cost
    print(
        f"session: {cost.requests} invocations, {cost.gb_seconds:.4f} GB-s, "
        f"${cost.total_usd:.8f} on AWS before the free tier, ${cost.with_free_tier():.2f} with it."
    )
