"""``--debug FUNCTION[:PORT]``, ``--debug-wait``, ``--env-vars`` and ``run_local.py debug-config vscode``.

See docs/debugging.md: the function's environments run under debugpy (Python) or Node's inspector
(Node.js); an editor attaches to the port.
"""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.config import FUNCTION_NAME
from sandbox.errors import SandboxError
from sandbox.lambda_.debugging import DEFAULT_PORT, Debugging, parse_target
from sandbox.lambda_.env_vars_file import EnvVarsFile


def add_options(parser, invoke: bool = False) -> None:
    """The sandbox's (or, with ``invoke``, a temporary sandbox's) debugging and env.json options."""
    group = parser.add_argument_group("debugging (docs/debugging.md)")
    if invoke:
        group.add_argument(
            "--debug",
            nargs="?",
            const=str(DEFAULT_PORT),
            metavar="PORT",
            help=f"run the function under debugpy and wait for an editor to attach on PORT "
            f"(default {DEFAULT_PORT}) before invoking",
        )
    else:
        group.add_argument(
            "--debug",
            action="append",
            default=[],
            metavar="FUNCTION[:PORT]",
            help=f"run FUNCTION's execution environments under debugpy (Node.js: its inspector), one at "
            f"a time; an editor attaches on PORT (default {DEFAULT_PORT}); the function's timeout "
            f"is paused while it is stopped at a breakpoint (repeatable)",
        )
        group.add_argument(
            "--debug-wait",
            action="store_true",
            help="with --debug: hold each invocation of a debugged function until an editor attaches",
        )
    group.add_argument(
        "--env-vars",
        metavar="FILE",
        help='environment variable overrides in sam local\'s format: {"FunctionName": '
        '{"VAR": "value"}, "Parameters": {...}}; only variables the function '
        "declares are set",
    )


def sandbox_options(args, function_name: str | None = None) -> dict:
    """SandboxConfig's debug and env_vars_file from the parsed options."""
    if function_name is not None:  # invoke --debug [PORT]: that function, waiting for the editor
        targets = () if args.debug is None else (parse_target(f"{function_name}:{args.debug}", wait=True),)
    else:
        targets = tuple(parse_target(text, wait=args.debug_wait) for text in args.debug)
        if args.debug_wait and not targets:
            raise SandboxError("--debug-wait goes with --debug FUNCTION[:PORT].")
    names = [t.function_name for t in targets]
    if len(set(names)) < len(names) or len({t.port for t in targets}) < len(targets):
        raise SandboxError("--debug: each function once, each on its own port.")
    return {
        "debug": Debugging(targets) if targets else None,
        "env_vars_file": EnvVarsFile.load(args.env_vars) if args.env_vars else None,
    }


def started(sandbox, report=print) -> None:
    """After the sandbox started: every --debug names one of its functions; env.json's entries are matched
    to template logical ids, and those that set nothing are named."""
    functions = sandbox.functions()
    if sandbox.config.debug is not None:
        sandbox.config.debug.check({f.function_name for f in functions})
    env_file = sandbox.config.env_vars_file
    if env_file is not None:
        env_file.logical_ids = lambda: {
            f["name"]: f["logical_id"]
            for application in sandbox.applications()
            for f in application.get("functions", [])
        }
        for note in env_file.skipped(functions):
            report(note)


def banner_lines(sandbox) -> list[str]:
    if sandbox.config.debug is None:
        return []
    return [
        f"debug              : {d['function']} under "
        f"{'Node.js inspector' if d.get('protocol') == 'inspector' else 'debugpy'}, attach to "
        f"127.0.0.1:{d['port']} (one environment at a time, full CPU, its timeout paused while stopped"
        f"{'; each invocation waits for the editor' if d['wait'] else ''})"
        for d in sandbox.config.debug.describe()
    ]


def launch_configuration(function_name: str, port: int, runtime: str = "python") -> dict:
    """VS Code's attach configuration: the Python debugger (debugpy), or for a Node.js function VS Code's
    JavaScript debugger on the inspector port (reconnecting when a new environment starts)."""
    if runtime == "node":
        return {
            "name": f"Attach to {function_name} (run_local.py --debug, Node.js)",
            "type": "node",
            "request": "attach",
            "address": "127.0.0.1",
            "port": port,
            # A new execution environment (hot reload, a timeout) is a new process: attach to it again.
            "restart": True,
            "localRoot": "${workspaceFolder}",
            "remoteRoot": "${workspaceFolder}",
            "skipFiles": ["<node_internals>/**"],
        }
    return {
        "name": f"Attach to {function_name} (run_local.py --debug)",
        "type": "debugpy",
        "request": "attach",
        "connect": {"host": "127.0.0.1", "port": port},
        # The function runs from these very files, so local and remote paths are the same.
        "pathMappings": [{"localRoot": "${workspaceFolder}", "remoteRoot": "${workspaceFolder}"}],
        "justMyCode": True,
    }


def cmd_debug_config(args) -> int:
    configuration = launch_configuration(args.function_name, args.port, args.runtime)
    if args.print:
        print(json.dumps({"version": "0.2.0", "configurations": [configuration]}, indent=4))
        return 0
    path = Path(args.dir) / ".vscode" / "launch.json"
    launch = {"version": "0.2.0", "configurations": []}
    if path.exists():
        try:
            launch = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raise SandboxError(
                f"{path} is not plain JSON (comments?); add the configuration that "
                f"`run_local.py debug-config vscode --print` shows by hand."
            ) from None
    others = [c for c in launch.get("configurations", []) if c.get("name") != configuration["name"]]
    launch["configurations"] = others + [configuration]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(launch, indent=4) + "\n", encoding="utf-8")
    print(
        f'wrote {path}: "{configuration["name"]}" attaches to 127.0.0.1:{args.port}; start the sandbox '
        f"with run_local.py --debug {args.function_name}:{args.port}, then Run and Debug in VS Code."
    )
    return 0


def add_subcommands(sub) -> None:
    p = sub.add_parser(
        "debug-config",
        help="write the editor's attach configuration for --debug",
        description="Write .vscode/launch.json's attach configuration (debugpy, or with --runtime node "
        "VS Code's Node debugger; connect to the --debug port), kept beside the configurations already "
        "there.",
    )
    p.add_argument("editor", choices=["vscode"])
    p.add_argument("--function-name", default=FUNCTION_NAME)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument(
        "--runtime",
        choices=["python", "node"],
        default="python",
        help="the function's language: python (debugpy) or node (Node's inspector)",
    )
    p.add_argument("--dir", default=".", help="the project folder VS Code opens (default: the current one)")
    p.add_argument("--print", action="store_true", help="print launch.json instead of writing it")
    p.set_defaults(func=cmd_debug_config)
