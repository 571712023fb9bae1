"""``run_local.py fire-rule NAME``: fire a scheduled rule of a running sandbox now (through its
``/_sandbox/schedules/fire`` route: AWS has no API that fires a rule now); and the Scheduled Event that
``generate-event scheduled`` prints. ``run_local.py triggers`` lists the rules with their next time."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

from sandbox.cli.sandbox_commands import _running_sandbox
from sandbox.config import ACCOUNT_ID, DEFAULT_ENDPOINT_URL
from sandbox.errors import SandboxError
from sandbox.event_sources.schedules.targets import sample_scheduled_event as scheduled_sample
from sandbox.lambda_.invocation import InvocationStatus


def sample_scheduled_event(rule: str, region: str, when: str | None = None) -> dict:
    """The event a scheduled rule sends, like ``sam local generate-event cloudwatch scheduled-event``."""
    return scheduled_sample(rule, region, ACCOUNT_ID, when)


# The exports the banner prints point these commands at the sandbox, as they point the AWS CLI.
_ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", DEFAULT_ENDPOINT_URL)
_ENDPOINT_HELP = f"the running sandbox (default: $AWS_ENDPOINT_URL, else {DEFAULT_ENDPOINT_URL})"


def add_subcommands(sub) -> None:
    p = sub.add_parser(
        "fire-rule",
        help="fire a scheduled rule of a running sandbox now, print the results",
        description="Fire a scheduled EventBridge rule now, as if its time had come (its next "
        "time is unchanged): each target gets the Scheduled Event (or its Input), a "
        "Lambda function asynchronously. AWS has no such command; the sandbox offers "
        "it so a class need not wait for cron(0 3 * * ? *).",
    )
    p.add_argument("name", help="the rule's name (aws events list-rules)")
    p.add_argument(
        "--schedule",
        action="store_true",
        help="NAME is an EventBridge Scheduler schedule (aws scheduler list-schedules)",
    )
    p.add_argument("--group", default=None, help="with --schedule: its schedule group (default: default)")
    p.add_argument("--endpoint-url", default=_ENDPOINT, help=_ENDPOINT_HELP)
    p.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds to wait for each invocation's result (default: 60; 0: do not wait)",
    )
    p.set_defaults(func=cmd_fire_rule)


def _request(url: str, method: str = "GET") -> dict:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message")
        except ValueError:
            message = None
        raise SandboxError(message or f"The sandbox answered {exc.code} to {method} {url}.") from None


def _require_sandbox(endpoint_url: str) -> None:
    if not _running_sandbox(endpoint_url):
        raise SandboxError(
            f"No sandbox is running at {endpoint_url}; start one with `make run` "
            f"(or `python run_local.py`) first."
        )


def cmd_fire_rule(args) -> int:
    _require_sandbox(args.endpoint_url)
    query = {
        "name": args.name,
        **({"kind": "schedule", "group": args.group or "default"} if args.schedule else {}),
    }
    fired = _request(f"{args.endpoint_url}/_sandbox/schedules/fire?{urlencode(query)}", "POST")["fired"]
    what = "schedule" if args.schedule else "rule"
    if not fired:
        print(f"fired {what} {args.name}: no Lambda target was invoked (see the sandbox's terminal)")
        return 0
    print(f"fired {what} {args.name}: " + ", ".join(f"{f['function']} ({f['request_id']})" for f in fired))
    if args.wait <= 0:
        return 0
    failures = 0
    for item in fired:
        record = _wait_final(args.endpoint_url, item["request_id"], args.wait)
        if record is None:
            print(f"  {item['function']}: no result after {args.wait:.0f} s")
            failures += 1
        elif record["status"] == InvocationStatus.SUCCESS:
            result = json.dumps(record.get("result"))
            result = result if len(result) <= 2000 else result[:2000] + " ..."
            print(f"  {item['function']}: success in {record['duration_ms']} ms -> {result}")
        else:
            failures += 1
            print(
                f"  {item['function']}: {record['status']} (attempt {record['attempt']}) - "
                f"{record.get('error_type') or ''} {record.get('error_message') or ''}".rstrip()
            )
    return 1 if failures else 0


def _wait_final(endpoint_url: str, request_id: str, timeout: float) -> dict | None:
    """The latest attempt of an invocation, once it is final (a failed attempt is final when its retry
    is scheduled: it is reported then, as the first answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attempts = _request(f"{endpoint_url}/_sandbox/invocations?{urlencode({'request_id': request_id})}")[
            "invocations"
        ]
        latest = max(attempts, key=lambda r: r["attempt"], default=None)
        if latest is not None and latest.get("final"):
            return latest
        time.sleep(0.1)
    return None
