"""``--example response-streaming``: a Node.js function that streams a job's progress
(examples/response-streaming/, ``awslambda.streamifyResponse``), with a function URL in ``RESPONSE_STREAM``
mode (auth NONE), made with the calls its README shows for AWS. Needs ``node`` on this machine."""

from __future__ import annotations

import io
import zipfile

from sandbox.errors import ConfigError
from sandbox.guide.example_setups import EXAMPLES_DIR, Example, allow_public_url
from sandbox.lambda_.runtimes import node_binary

FOLDER = EXAMPLES_DIR / "response-streaming"
FUNCTION = "StreamingProgressLambda"
RUNTIME = "nodejs22.x"


class ExampleUnavailable(ConfigError):
    """What this machine lacks to run the example (with `--example all` it is noted, not fatal)."""

    skippable = True


def missing() -> str | None:
    """Why the example cannot run here, or None."""
    if node_binary() is None:
        return (
            "the response-streaming example needs Node.js: no `node` on PATH "
            "(install Node.js 20 or newer, e.g. `apt-get install nodejs`)"
        )
    return None


def function_zip() -> bytes:
    """index.mjs alone at the package's root, as `zip -j` makes it (read_stream.py is the caller's)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(FOLDER / "index.mjs", "index.mjs")
    return buffer.getvalue()


def setup(sandbox) -> list[str]:
    reason = missing()
    if reason:
        raise ExampleUnavailable(reason)
    lam = sandbox.shared_client("lambda")
    lam.create_function(
        FunctionName=FUNCTION,
        Runtime=RUNTIME,
        Role=sandbox.function.role_arn,
        Handler="index.handler",
        Code={"ZipFile": function_zip()},
        Timeout=30,
    )
    url = lam.create_function_url_config(
        FunctionName=FUNCTION, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )["FunctionUrl"]
    allow_public_url(sandbox, FUNCTION)
    url_id = url.split("//", 1)[1].split(".", 1)[0]
    return [
        f"{url} -> {FUNCTION} ({RUNTIME}, InvokeMode RESPONSE_STREAM, auth NONE)",
        f"try: curl -N '{url}?steps=3'   (or {sandbox.endpoint_url}/_aws/lambda-url/{url_id}/?steps=3)",
        f"or:  python examples/response-streaming/read_stream.py {FUNCTION}",
    ]


EXAMPLE = Example("response-streaming", "a Node.js function streaming its response to a function URL", setup)
