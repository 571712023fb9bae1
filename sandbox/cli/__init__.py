"""``run_local.py``: start the sandbox, or one of its tools. ``run_local.py --help`` lists them all.

- ``serve.py``: the sandbox itself (the default command), its banner and live log tail;
- ``sandbox_commands.py``: invoke, generate-event, upload, redrive, triggers, bench against a running sandbox;
- ``deploy_commands.py``: deploy and destroy (the guide's four steps with boto3);
- ``tune.py``: power tuning; ``schedule_commands.py``: fire-rule; ``debug_commands.py``: the debugger;
- ``package_command.py``: package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sandbox.cli import debug_commands, deploy_commands, package_command, schedule_commands, tune
from sandbox.cli import sandbox_commands as tools
from sandbox.cli.sandbox_commands import (
    cmd_bench,
    cmd_generate_event,
    cmd_invoke,
    cmd_redrive,
    cmd_triggers,
    cmd_upload,
)
from sandbox.cli.serve import cmd_serve
from sandbox.config import (
    DEFAULT_HANDLER,
    DEFAULT_MEMORY_MB,
    DEFAULT_REGION,
    DEFAULT_STATE_DIR,
    DEFAULT_TIMEOUT_S,
    FUNCTION_NAME,
    MAX_MEMORY_MB,
    MAX_TIMEOUT_S,
    MIN_MEMORY_MB,
    MIN_TIMEOUT_S,
    PROJECT_ROOT,
    SOURCE_BUCKET,
    FunctionConfiguration,
    SandboxConfig,
    parse_env_pairs,
)
from sandbox.errors import SandboxError
from sandbox.event_sources import SAMPLE_EVENTS
from sandbox.guide import example_setups as examples

DEFAULTS = SandboxConfig()
DEFAULT_ENDPOINT_PORT = DEFAULTS.port
FUNCTION_DEFAULTS = FunctionConfiguration()

EPILOG = f"""examples:
  run_local.py                                  start the sandbox (endpoint :{DEFAULTS.port}, page :{DEFAULTS.web_port})
  run_local.py --watch drop/ --open             ... upload every file dropped into drop/, open the page
  run_local.py --code-dir my_handler --handler {DEFAULT_HANDLER}
  run_local.py --template template.yaml         run a SAM/CloudFormation template's application instead
  run_local.py --debug {FUNCTION_NAME}          step through the handler in your editor (docs/debugging.md)
  run_local.py --template sam-app/template.yaml --parameter-overrides Stage=dev Bucket=my-bucket
  run_local.py upload sample_images/            upload the images in it to a running sandbox, print each result
  run_local.py invoke --upload sample_images/test.jpg   upload, then one synchronous invocation with its event
  run_local.py invoke --event tests/events/s3-put.json  one synchronous invocation, result and log lines
  run_local.py generate-event s3-put --bucket {SOURCE_BUCKET} --key test.jpg
  run_local.py generate-event sqs-receive-message --body hello   (also dynamodb-update, scheduled)
  run_local.py redrive                          re-submit dead-lettered events
  run_local.py fire-rule bucket-report          fire a scheduled rule now (EventBridge), print the results
  run_local.py generate-event scheduled --rule bucket-report   a Scheduled Event, as EventBridge sends it
  run_local.py generate-event lambda-url --path /hello   a request to a function URL
  run_local.py generate-event sns --topic orders --message hi   an SNS message to a Lambda subscription
  run_local.py generate-event eventbridge --source shop   an event put on a bus, as a rule's target gets it
  run_local.py bench                            measure start-up, latency, throughput
  run_local.py tune --upload sample_images/test.jpg   time and cost at several memory sizes (Power Tuning)
  run_local.py package                          build function.zip and pillow-layer.zip for AWS
  run_local.py deploy [--aws] [--dry-run]       the guide's 4 steps with boto3 (the sandbox if running, else AWS)
  run_local.py destroy [--aws] [--delete-buckets]  remove what deploy created
"""  # noqa: E501 (the help text's two columns)


def add_function_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("function (the console's Configuration tab)")
    group.add_argument(
        "--code-dir",
        default=str(PROJECT_ROOT / "handler"),
        help="folder holding the function's code, deployed as its task root (default: handler/)",
    )
    group.add_argument(
        "--handler", default=DEFAULT_HANDLER, help=f"file.function to call (default: {DEFAULT_HANDLER})"
    )
    group.add_argument(
        "--memory",
        type=int,
        default=DEFAULT_MEMORY_MB,
        help=f"memory size in MB, {MIN_MEMORY_MB}-{MAX_MEMORY_MB} (default: {DEFAULT_MEMORY_MB})",
    )
    group.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_TIMEOUT_S,
        help=f"timeout in seconds, {MIN_TIMEOUT_S}-{MAX_TIMEOUT_S} (default: {DEFAULT_TIMEOUT_S})",
    )
    group.add_argument(
        "--env",
        action="append",
        metavar="KEY=VALUE",
        help="an environment variable of the function (repeatable), e.g. --env SCALE=0.25",
    )
    group.add_argument(
        "--concurrency",
        type=int,
        default=FUNCTION_DEFAULTS.reserved_concurrency,
        help=(
            "reserved concurrency: most environments at once (default: "
            f"{FUNCTION_DEFAULTS.reserved_concurrency})"
        ),
    )
    group.add_argument(
        "--retries",
        type=int,
        default=FUNCTION_DEFAULTS.maximum_retry_attempts,
        choices=(0, 1, 2),
        help="maximum retry attempts of a failed asynchronous invocation (default: 2)",
    )


def function_from_args(args) -> FunctionConfiguration:
    return FunctionConfiguration(
        code_dir=Path(args.code_dir),
        handler=args.handler,
        memory_size=args.memory,
        timeout=args.timeout,
        environment=parse_env_pairs(args.env),
        reserved_concurrency=args.concurrency,
        maximum_retry_attempts=args.retries,
    )


# Long on purpose: one argparse tree, declared in the order --help prints it, so an option is found where
# the help shows it; each group's options are a few lines apart, and the commands' own modules add theirs.
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_local.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
        description=f"A local, Docker-free AWS Lambda sandbox: S3 uploads to {SOURCE_BUCKET} run "
        f"{FUNCTION_NAME} (handler/) in Lambda-like execution environments.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_ENDPOINT_PORT,
        help=f"local AWS endpoint port (default: {DEFAULT_ENDPOINT_PORT})",
    )
    parser.add_argument(
        "--web-port",
        type=int,
        default=DEFAULTS.web_port,
        help=f"the page's port (default: {DEFAULTS.web_port})",
    )
    parser.add_argument("--no-web", action="store_true", help="do not serve the page")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; e.g. 0.0.0.0 "
        "shares the sandbox with a classroom: clients then need its access token)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="URL",
        help="let the web page at this origin (e.g. http://localhost:3000, your own front "
        "end) use the endpoint; S3 then answers it per the bucket's CORS configuration "
        "(repeatable; default: only the sandbox's own page)",
    )
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help="with --host beyond loopback: the access token clients on other machines must "
        "use as AWS_ACCESS_KEY_ID (default: a new random one each start)",
    )
    parser.add_argument(
        "--moto-api",
        action="store_true",
        help="serve moto's /moto-api/ (reset, recorder, replay) on the endpoint "
        "(default: off; whatever reaches the endpoint could reset or replay its state)",
    )
    parser.add_argument("--open", action="store_true", help="open the page in a browser once ready")
    parser.add_argument(
        "--watch", metavar="DIR", help="upload every file dropped into DIR to the source bucket"
    )
    parser.add_argument(
        "--example",
        action="append",
        default=[],
        metavar="NAME",
        help=f"also set up an example of another trigger (examples/NAME): "
        f"{', '.join(examples.names())} (repeatable)",
    )
    parser.add_argument(
        "--template",
        metavar="FILE",
        help="create what this SAM or CloudFormation template declares, instead of the guide's "
        "stack, and run its functions from their CodeUri folders (hot reload); every "
        "trigger the sandbox runs is wired as on AWS (the function options below are then "
        "the template's to set)",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="with --template: the template's parameter values, as sam deploy takes them "
        "(Key=Value or ParameterKey=Key,ParameterValue=Value)",
    )
    parser.add_argument(
        "--stack-name", help="with --template: the stack's name (default: the template's folder)"
    )
    parser.add_argument(
        "--real-retry-delays",
        action="store_true",
        help="retry failed asynchronous invocations after 1 and 2 minutes, as AWS does "
        "(default: after 1 and 2 seconds)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=300.0,
        help="seconds an idle execution environment is kept (default: 300)",
    )
    parser.add_argument(
        "--max-upload-mb", type=float, default=25.0, help="the page's upload limit (default: 25)"
    )
    parser.add_argument("--quiet", action="store_true", help="no live tail of the function's logs")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=DEFAULTS.time_scale,
        metavar="N",
        help="make time pass N times faster for scheduled rules, e.g. 60: a minute per second, "
        "so cron(0 3 * * ? *) fires within 24 minutes (default: 1, the real UTC clock)",
    )
    parser.add_argument(
        "--full-cpu",
        action="store_true",
        help="let every execution environment use this machine's whole CPU (raw local speed); "
        "default: memory buys CPU as on AWS, memory / 1,769 MB of a vCPU (7%% at 128 MB)",
    )
    state = parser.add_argument_group("state across restarts (sandbox/state/)")
    state.add_argument(
        "--state-dir",
        metavar="DIR",
        help="keep buckets, objects, functions, logs, queues, tables, APIs, rules and the "
        "invocation history in DIR, written before each acknowledgement, restored on the "
        "next start; each stack (the guide's, a template's, a set of examples) keeps its "
        "own folder in DIR (make run: .sandbox-state; default: in memory only)",
    )
    state.add_argument(
        "--fresh", action="store_true", help="with --state-dir: delete the kept state and start empty"
    )
    state.add_argument(
        "--salvage",
        action="store_true",
        help="with --state-dir: restore what can be read of a damaged state (the damaged one is "
        "kept aside) and name what could not",
    )
    add_function_options(parser)
    debug_commands.add_options(parser)
    parser.set_defaults(func=cmd_serve)

    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser(
        "invoke",
        help="one synchronous invocation, printing the result and the log lines",
        description="Invoke the function once with an event file, like `sam local invoke -e`. "
        "With a sandbox running at --endpoint-url it runs there (through the Lambda "
        "Invoke API); otherwise a temporary sandbox is started for it.",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--event", help="JSON file with the event ('-' for standard input), e.g. tests/events/s3-put.json"
    )
    what.add_argument(
        "--upload",
        metavar="FILE",
        help="upload FILE to --bucket first (key: its name, or --key), then invoke with its "
        "S3 ObjectCreated:Put event",
    )
    p.add_argument("--key", help="with --upload: the key to upload as")
    p.add_argument("--bucket", default=SOURCE_BUCKET, help="with --upload: the bucket (default: %(default)s)")
    p.add_argument("--function-name", default=FUNCTION_NAME)
    p.add_argument("--endpoint-url", default=tools.ENDPOINT_URL)
    p.add_argument(
        "--full-cpu",
        action="store_true",
        help="in a temporary sandbox, run at this machine's full speed (not AWS's CPU share)",
    )
    add_function_options(p)
    debug_commands.add_options(p, invoke=True)
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser(
        "generate-event",
        help="print a complete sample event",
        description="Print an event exactly as AWS sends it, like `sam local generate-event`.",
    )
    p.add_argument(
        "kind",
        choices=list(SAMPLE_EVENTS),
    )
    p.add_argument("--bucket", default=SOURCE_BUCKET)
    p.add_argument("--key", default="test.jpg")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--region", default=DEFAULT_REGION)
    p.add_argument("--rule", default="my-scheduled-rule", help="scheduled: the rule's name")
    p.add_argument("--queue", default="image-resize-queue", help="sqs-receive-message: the queue's name")
    p.add_argument(
        "--body",
        default="Hello from SQS!",
        help="sqs-receive-message: the message body; apigateway-*: the request body (not for GET)",
    )
    p.add_argument("--method", default="GET", help="apigateway-*, lambda-url: the request's method")
    p.add_argument("--path", default="/items/42", help="apigateway-*, lambda-url: the request's path")
    p.add_argument(
        "--auth-type",
        default="NONE",
        choices=["NONE", "AWS_IAM"],
        help="lambda-url: the URL's AuthType (AWS_IAM adds requestContext.authorizer.iam)",
    )
    p.add_argument("--table", default="image-captions", help="dynamodb-update: the table's name")
    p.add_argument("--event-time", help="scheduled: when it fired, e.g. 2026-11-30T03:00:00Z (default: now)")
    p.add_argument("--topic", default="sns-lambda", help="sns: the topic's name")
    p.add_argument("--message", default="Hello from SNS!", help="sns: the message")
    p.add_argument("--subject", default="TestInvoke", help="sns: the subject")
    p.add_argument("--source", default="com.example.orders", help="eventbridge: the event's source")
    p.add_argument("--detail-type", default="Order Placed", help="eventbridge: the event's detail-type")
    p.add_argument(
        "--detail", default='{"orderId": "1234", "total": 250}', help="eventbridge: the detail (JSON object)"
    )
    p.set_defaults(func=cmd_generate_event)

    p = sub.add_parser(
        "upload",
        help="upload files or folders to a running sandbox and print each result",
        description="Upload files to the source bucket of a running sandbox with a progress "
        "bar, then wait for and print each file's result. Folders are walked for "
        "images (the file types Pillow opens); --all uploads every file in them. "
        "A file named on its own is always uploaded.",
    )
    p.add_argument("paths", nargs="+")
    p.add_argument("--all", action="store_true", help="in folders, upload every file, not only images")
    p.add_argument("--endpoint-url", default=tools.ENDPOINT_URL)
    p.add_argument("--bucket", default=SOURCE_BUCKET)
    p.add_argument("--prefix", default="", help="key prefix, e.g. photos/")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for each result (default: 30)")
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser(
        "triggers",
        help="list every function's triggers in a running sandbox",
        description="List the triggers of a running sandbox: S3 notifications, queue and stream "
        "mappings (state, last result), APIs (URLs) and schedules (next fire time).",
    )
    p.add_argument("--endpoint-url", default=tools.ENDPOINT_URL)
    p.set_defaults(func=cmd_triggers)

    p = sub.add_parser(
        "redrive",
        help="re-submit the events in the dead-letter queue",
        description="Re-submit dead-lettered events of a running sandbox as new asynchronous invocations.",
    )
    p.add_argument("--endpoint-url", default=tools.ENDPOINT_URL)
    p.add_argument("--function-name", default=FUNCTION_NAME)
    p.set_defaults(func=cmd_redrive)

    p = sub.add_parser(
        "reset",
        help="delete the state kept in a state directory (all its stacks' folders)",
        description="Delete what --state-dir kept, so the next start is empty. The sandbox "
        "using it must be stopped.",
    )
    p.add_argument(
        "--state-dir", default=DEFAULT_STATE_DIR, help=f"default: {DEFAULT_STATE_DIR}, as make run uses"
    )
    p.set_defaults(func=tools.cmd_reset)

    p = sub.add_parser("bench", help="measure start-up, latency and throughput; prints figures")
    from sandbox.tools.bench import PARTS

    p.add_argument("--only", action="append", choices=PARTS, help="run only these parts (repeatable)")
    p.add_argument("--uploads", type=int, default=20, help="warm uploads to time (default: 20)")
    p.set_defaults(func=cmd_bench)

    tune.add_subcommand(sub, add_function_options)
    schedule_commands.add_subcommands(sub)
    package_command.add_subcommand(sub)
    deploy_commands.add_subcommands(sub)
    debug_commands.add_subcommands(sub)
    return parser


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
