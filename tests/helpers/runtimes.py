"""Functions in other runtimes (Node.js, custom runtimes) created with the Lambda API from files: their zip
(with file modes), create and invoke, the conformance handlers' files, a custom runtime's bootstrap."""

from __future__ import annotations

import base64
import io
import json
import shutil
import zipfile

import pytest

from helpers.paths import HANDLERS

ROLE = "arn:aws:iam::123456789012:role/ImageResizeLambdaRole"


needs_node = pytest.mark.skipif(
    shutil.which("node") is None,
    reason="node is not installed: the Node runtime's tests need Node.js on PATH",
)


def zip_files(files: dict, modes: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o100000 | (modes or {}).get(name, 0o644)) << 16
            zf.writestr(info, text)
    return buffer.getvalue()


def create_function(sb, name, runtime, handler, files, modes=None, **extra):
    sb.client("lambda").create_function(
        FunctionName=name,
        Runtime=runtime,
        Handler=handler,
        Role=ROLE,
        Code={"ZipFile": zip_files(files, modes)},
        **extra,
    )


def invoke_function(sb, name, event=None):
    response = sb.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}), LogType="Tail")
    return response, json.loads(response["Payload"].read()), base64.b64decode(response["LogResult"]).decode()


def conformance_files(*names):
    return {name: (HANDLERS / "conformance" / name).read_text() for name in names}


BOOTSTRAP = """#!/bin/sh
# A custom runtime in shell: the Runtime API loop AWS's docs show.
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  echo "handling $ID with $_HANDLER"
  curl -sS -X POST "$API/invocation/$ID/response" \\
    -d "{\\"echo\\": $EVENT, \\"handler\\": \\"$_HANDLER\\"}" >/dev/null
done
"""
