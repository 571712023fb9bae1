"""The runtime inside one execution environment: a small, standard-library-only twin of awslambdaric.

Like ``awslambdaric/bootstrap.py``: set up logging, import the handler once (INIT; an import error goes to
``/runtime/init/error`` and the process exits), then loop on ``GET /invocation/next -> handler(event,
context) -> POST /invocation/{id}/response | /error``. Started as a script (``python -I -u bootstrap.py``),
so it imports nothing of the sandbox. Log lines go to stdout (a record's inner newlines written as
``\\r``), with a marker line before each response that the sandbox reads and removes.

How it differs from AWS's runtime: docs/execution-environment.md.
"""

import http.client
import importlib
import importlib.machinery
import json
import logging
import os
import sys
import time
import traceback

MARKER = "\x1f\x1fSANDBOX:"  # + "init" or "end:<request id>"
API_PATH = "/2018-06-01/runtime"


def emit_marker(tag):
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, ("\n" + MARKER + tag + "\n").encode())


class RuntimeClient:
    """The Runtime API over one keep-alive HTTP connection."""

    def __init__(self, address):
        host, _, port = address.partition(":")
        self.conn = http.client.HTTPConnection(host, int(port))

    def _request(self, method, path, body=None, headers=None):
        self.conn.request(method, API_PATH + path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        return response, response.read()

    def next(self):
        response, body = self._request("GET", "/invocation/next")
        return dict(response.getheaders()), body

    def respond(self, request_id, payload):
        self._request(
            "POST", f"/invocation/{request_id}/response", payload, {"Content-Type": "application/json"}
        )

    def error(self, request_id, error):
        self._request(
            "POST",
            f"/invocation/{request_id}/error",
            json.dumps(error).encode(),
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Function-Error-Type": error.get("errorType", "Unhandled"),
            },
        )

    def init_error(self, error):
        self._request(
            "POST",
            "/init/error",
            json.dumps(error).encode(),
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Function-Error-Type": error.get("errorType", "Unhandled"),
            },
        )


# -- logging: [LEVEL]\t<UTC time>Z\t<request id>\t<message>, as the Python runtime formats it ----------
_current_request_id = ""


class LambdaLoggerFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _current_request_id
        return True


class LambdaLoggerHandler(logging.StreamHandler):
    def emit(self, record):
        try:
            message = self.format(record).replace("\r\n", "\r").replace("\n", "\r")
            stream = sys.stdout
            stream.write(message + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def setup_logging():
    handler = LambdaLoggerHandler()
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(LambdaLoggerFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


# -- the context object ---------------------------------------------------------------------------------
class CognitoIdentity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class LambdaContext:
    """Every attribute of the real context object (awslambdaric's LambdaContext)."""

    def __init__(
        self, request_id, deadline_ms, invoked_function_arn, client_context=None, cognito_identity=None
    ):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.client_context = client_context
        self.identity = CognitoIdentity()
        if cognito_identity:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        # From the absolute deadline the Runtime API sent, never below 0 (as on AWS); under the sandbox's
        # debugger, moved by the time the debugger held the function.
        return max(debug_deadline(self.aws_request_id, self._deadline_ms) - int(time.time() * 1000), 0)

    def log(self, message):
        sys.stdout.write(str(message))
        sys.stdout.flush()

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name},"
            f"function_version={self.function_version},invoked_function_arn={self.invoked_function_arn}])"
        )


# -- errors, shaped like the Python runtime's -----------------------------------------------------------
def error_result(exc, request_id="", error_type=None):
    frames = traceback.extract_tb(exc.__traceback__)
    # Drop the runtime's own frames, as AWS does: the trace starts in the user's code.
    frames = [
        f
        for f in frames
        if os.path.abspath(f.filename) != os.path.abspath(__file__)
        and not f.filename.startswith("<frozen")
        and "importlib" not in f.filename
    ]
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def log_error(result):
    lines = "".join(result.get("stackTrace") or [])
    text = (
        f"[ERROR] {result['errorType']}: {result['errorMessage']}\n"
        f"Traceback (most recent call last):\n{lines}"
    )
    sys.stdout.write(text.rstrip("\n").replace("\n", "\r") + "\n")
    sys.stdout.flush()


class RuntimeFault(Exception):
    """An error the runtime itself reports, with its own errorType (``Runtime.*``)."""

    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


class InitError(RuntimeFault):
    """The handler could not be loaded (the INIT phase failed)."""


def load_handler(spec):
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise InitError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        raise InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    handler = getattr(module, function_name, None)
    if handler is None:
        raise InitError(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return handler


def configure_sys_path():
    """/var/task first, then the layers (/opt/python...), then the runtime's own packages."""
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    layer_paths = [p for p in os.environ.get("SANDBOX_LAYER_PATHS", "").split(os.pathsep) if p]
    sys.path[:0] = [task_root] + layer_paths
    runtime_paths = os.environ.get("SANDBOX_RUNTIME_PATHS")
    if runtime_paths is not None:
        # Strict mode (functions deployed through the Lambda API): only the runtime's packages
        # (boto3) are visible, not those installed next to the sandbox: Pillow must come from a
        # layer, as on AWS.
        keep = [p for p in runtime_paths.split(os.pathsep) if p]
        stdlib = [p for p in sys.path if "site-packages" not in p and "dist-packages" not in p]
        sys.path[:] = (
            [task_root] + layer_paths + [p for p in stdlib if p not in (task_root, *layer_paths)] + keep
        )


# -- the function's own code always from its source ---------------------------------------------------------
class SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Loads the function's own modules from their source, never from a cached ``.pyc``: a timestamp
    ``.pyc`` matches a source of the same size saved within the same second, so a quick edit would run the
    old code after a hot reload. Writing no bytecode (``-B``) would not help: a ``.pyc`` already in
    ``__pycache__`` is still read. The runtime's packages keep their caches (boto3 compiles slowly)."""

    def path_stats(self, path):
        raise OSError("no bytecode cache for the function's own code")  # SourceLoader then compiles source


def load_code_from_source(task_root):
    root = os.path.abspath(task_root)
    finder = importlib.machinery.FileFinder.path_hook(
        (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
        (SourceOnlyLoader, importlib.machinery.SOURCE_SUFFIXES),
        (importlib.machinery.SourcelessFileLoader, importlib.machinery.BYTECODE_SUFFIXES),
    )

    def hook(path):
        folder = os.path.abspath(path or os.getcwd())
        if folder != root and not folder.startswith(root + os.sep):
            raise ImportError("not the function's code")
        return finder(path)

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.clear()


# -- run_local.py --debug ----------------------------------------------------------------------------------
_debug_clock = None


def start_debugger():
    """Under ``run_local.py --debug``: debugpy's in-process adapter listens on a private loopback port and
    the marker tells the sandbox which. debugpy comes from the sandbox's site-packages, which leaves
    ``sys.path`` again, and its name leaves ``sys.modules``: ``import debugpy`` in the function behaves as
    without the debugger."""
    global _debug_clock
    folder = os.environ.pop("SANDBOX_DEBUGPY", None)
    _debug_clock = os.environ.pop("SANDBOX_DEBUG_CLOCK", None)
    if not folder:
        return
    sys.path.insert(0, folder)
    try:
        import debugpy

        _, port = debugpy.listen(("127.0.0.1", 0), in_process_debug_adapter=True)
        emit_marker(f"debugpy:{port}")
        debugpy.wait_for_client()  # the sandbox's proxy sets the editor's breakpoints before INIT
    finally:
        sys.path.remove(folder)
        for name in [n for n in sys.modules if n == "debugpy" or n.startswith("debugpy.")]:
            _hidden_modules[name] = sys.modules.pop(name)


_hidden_modules = {}  # kept alive, out of the function's sight


def debug_deadline(request_id, deadline_ms):
    """The deadline, later by the time the debugger held this invocation (the sandbox writes it)."""
    if not _debug_clock:
        return deadline_ms
    try:
        with open(_debug_clock) as clock:
            held_request, _, deadline = clock.read().partition(" ")
        return int(deadline) if held_request == request_id else deadline_ms
    except (OSError, ValueError):
        return deadline_ms


def main():
    global _current_request_id
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    setup_logging()
    start_debugger()
    configure_sys_path()
    load_code_from_source(os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except Exception as exc:  # as awslambdaric: a module that raises while loading reports that exception
        result = error_result(exc, error_type=getattr(exc, "error_type", None))
        if isinstance(exc, InitError):
            result["stackTrace"] = []
        log_error(result)
        emit_marker("init")
        client.init_error(result)
        sys.exit(1)
    emit_marker("init")

    while True:
        headers, body = client.next()
        headers = {k.lower(): v for k, v in headers.items()}
        request_id = headers.get("lambda-runtime-aws-request-id", "")
        _current_request_id = request_id
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        client_context = headers.get("lambda-runtime-client-context")
        identity = headers.get("lambda-runtime-cognito-identity")
        try:
            # Parsed inside the error handling: a malformed client context fails this invocation, not
            # the environment.
            context = LambdaContext(
                request_id,
                int(headers.get("lambda-runtime-deadline-ms", "0")),
                headers.get("lambda-runtime-invoked-function-arn"),
                json.loads(client_context) if client_context else None,
                json.loads(identity) if identity else None,
            )
            event = json.loads(body) if body else {}
            result = handler(event, context)
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError) as exc:
                raise RuntimeFault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None
        except Exception as exc:
            error = error_result(exc, request_id, getattr(exc, "error_type", None))
            log_error(error)
            emit_marker("end:" + request_id)
            client.error(request_id, error)
            continue
        emit_marker("end:" + request_id)
        client.respond(request_id, payload)


if __name__ == "__main__":
    main()
