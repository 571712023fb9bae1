"""Lambda's request validation, from Lambda's own service model (botocore's copy of it).

Before a Lambda API request reaches the sandbox or moto, its path and query parameters and its JSON body
are checked the way Lambda checks them: a body that is not JSON or holds a value of the wrong type is
``InvalidRequestContentException``; a value outside its pattern, length or range is ``ValidationException``
(``1 validation error detected: Value '...' at 'functionName' failed to satisfy constraint: ...``). Request
sizes are Lambda's too: 413 ``RequestEntityTooLargeException`` above 6 MB (synchronous invoke), 1 MB
(asynchronous invoke) or 70,167,211 bytes (a 50 MB zip in base64, for a direct upload).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

# A function's own name (not an ARN) is at most 64 characters (Lambda's CreateFunction reference).
FUNCTION_NAME_LIMIT = 64
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
# AWS raised the asynchronous limit from 256 KB to 1 MB in October 2025; the deprecated InvokeAsync
# kept 256 KB.
ASYNC_PAYLOAD_LIMIT = 1024 * 1024
INVOKE_ASYNC_LIMIT = 256 * 1024
DIRECT_UPLOAD_REQUEST_LIMIT = 70_167_211  # what Lambda answers for a zip over 50 MB sent in the request
_UPLOADS = {"CreateFunction", "UpdateFunctionCode", "PublishLayerVersion"}


@dataclass
class LambdaApiError(Exception):
    """An answer in Lambda's error shape: the status, ``x-amzn-ErrorType`` and the message."""

    status: int
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def _unreadable(detail: str) -> LambdaApiError:
    return LambdaApiError(
        400, "InvalidRequestContentException", f"Could not parse request body into json: {detail}"
    )


@dataclass(frozen=True)
class Operation:
    model: object  # botocore OperationModel
    path: re.Pattern
    query: str  # a literal the query must hold (``find=LayerVersion``), or ""

    @property
    def name(self) -> str:
        return self.model.name


@functools.lru_cache(maxsize=1)
def operations() -> tuple[Operation, ...]:
    import boto3

    # boto3's default session: the sandbox's Lambda clients have loaded the model there already
    service = boto3._get_default_session()._session.get_service_model("lambda")
    found = []
    for name in service.operation_names:
        model = service.operation_model(name)
        uri, _, query = model.http["requestUri"].partition("?")
        pattern = re.sub(r"\\\{(\w+)(?:\\\+)?\\\}", r"(?P<\1>[^/]+)", re.escape(uri.rstrip("/")))
        found.append(Operation(model, re.compile(f"^{pattern}/?$"), query))
    # Literal paths before templated ones (``/functions/{name}`` must not swallow a literal route), and
    # of two operations on one path, the one a query literal picks out first.
    return tuple(sorted(found, key=lambda op: (op.path.pattern.count("(?P<"), not op.query)))


def find_operation(method: str, raw_path: str, query: str = "") -> tuple[Operation, dict] | None:
    """The operation a request calls and its path parameters (percent-decoded), or None."""
    given = query.split("&")
    for operation in operations():
        if operation.model.http["method"] != method or (operation.query and operation.query not in given):
            continue
        match = operation.path.match(raw_path)
        if match:
            return operation, {k: unquote(v) for k, v in match.groupdict().items()}
    return None


def request_limit(operation: Operation, invocation_type: str | None) -> int | None:
    if operation.name == "InvokeWithResponseStream":
        return SYNC_PAYLOAD_LIMIT
    if operation.name == "Invoke":
        return ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT
    if operation.name == "InvokeAsync":
        return INVOKE_ASYNC_LIMIT
    return DIRECT_UPLOAD_REQUEST_LIMIT if operation.name in _UPLOADS else None


def too_large(operation: Operation, limit: int) -> LambdaApiError:
    if operation.name == "InvokeAsync":
        what = "InvokeAsync API"
    else:
        what = ("InvokeFunction" if operation.name == "Invoke" else operation.name) + " operation"
    return LambdaApiError(
        413, "RequestEntityTooLargeException", f"Request must be smaller than {limit} bytes for the {what}"
    )


def validate(operation: Operation, path_params: dict, query: str, body: bytes) -> dict:
    """The request's JSON body (``{}`` for none) once it passes Lambda's checks; raises LambdaApiError."""
    shape = operation.model.input_shape
    problems: list[str] = []
    if shape is None:
        return {}
    given = parse_qs(query, keep_blank_values=True)
    request: dict = {}
    present: set[str] = set()
    for name, member in shape.members.items():
        location, key = member.serialization.get("location"), member.serialization.get("name", name)
        if location == "uri":
            value = path_params.get(key)
            if value is not None and member.type_name in ("integer", "long") and value.isdigit():
                value = int(value)  # a path carries text: /layers/{name}/versions/{versionNumber}
            request[name] = value
        elif location == "querystring" and key in given:
            present.add(name)  # only strings and lists of them are checked: other values come as text
            if member.type_name == "string":
                request[name] = given[key][0]
            elif member.type_name == "list" and member.member.type_name == "string":
                request[name] = given[key]
    for name, value in request.items():
        if value is not None:
            _check(shape.members[name], value, _field(name), problems)
    body_json = _body(operation, body)
    for name, member in shape.members.items():
        if member.serialization.get("location") or name not in body_json:
            continue
        _check(member, body_json[name], _field(name), problems)
    for name in shape.required_members:
        if (
            request.get(name) is None
            and name not in present
            and name not in body_json
            and not _is_payload(operation, name)
        ):
            problems.append(
                f"Value null at '{_field(name)}' failed to satisfy constraint: Member must not be null"
            )
    _check_name_length(request, body_json, problems)
    if problems:
        count = len(problems)
        errors = "validation error" if count == 1 else "validation errors"
        raise LambdaApiError(400, "ValidationException", f"{count} {errors} detected: " + "; ".join(problems))
    return body_json


def _is_payload(operation: Operation, name: str) -> bool:
    return operation.model.input_shape.serialization.get("payload") == name


def _body(operation: Operation, body: bytes) -> dict:
    if operation.model.input_shape.serialization.get("payload"):
        return {}  # Invoke: the body is the event, not Lambda's JSON
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _unreadable(f"the body is not JSON ({exc}).") from None
    if not isinstance(parsed, dict):
        raise _unreadable("the body must be a JSON object.")
    return parsed


def _field(name: str) -> str:
    return name[:1].lower() + name[1:]


def _check_name_length(request: dict, body: dict, problems: list[str]) -> None:
    """A function's own name is at most 64 characters, whether given alone or inside an ARN."""
    name = request.get("FunctionName") or body.get("FunctionName")
    if isinstance(name, str) and not any("functionName" in p for p in problems):
        from sandbox.lambda_.api import function_name_from

        if len(function_name_from(name)) > FUNCTION_NAME_LIMIT:
            problems.append(
                f"Value '{name}' at 'functionName' failed to satisfy constraint: Member must "
                f"have length less than or equal to {FUNCTION_NAME_LIMIT}"
            )


_TYPES = {
    "string": (str,),
    "blob": (str,),
    "boolean": (bool,),
    "structure": (dict,),
    "map": (dict,),
    "list": (list,),
    "integer": (int,),
    "long": (int,),
    "double": (int, float),
    "float": (int, float),
}


def _check(shape, value, where: str, problems: list[str]) -> None:
    """Types (InvalidRequestContentException, at once) and constraints (collected into ``problems``)."""
    if value is None:
        return  # null is as good as absent
    expected = _TYPES.get(shape.type_name)
    if expected and (not isinstance(value, expected) or (bool not in expected and isinstance(value, bool))):
        # AWS's JSON reader may read a number given for a string as its digits; here it is refused.
        raise _unreadable(f"'{where}' must be {_article(shape.type_name)}, not {type(value).__name__}.")
    meta = shape.metadata
    if shape.type_name == "blob":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _unreadable(f"'{where}' is not valid base64.") from None
    elif shape.type_name == "string":
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if "max" in meta and len(value) > meta["max"]:
            problems.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have "
                f"length less than or equal to {meta['max']}"
            )
        elif "min" in meta and len(value) < meta["min"]:
            problems.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have "
                f"length greater than or equal to {meta['min']}"
            )
        elif pattern is not None and pattern.fullmatch(value) is None:
            problems.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must "
                f"satisfy regular expression pattern: {meta['pattern']}"
            )
    elif shape.type_name in ("integer", "long"):
        if "max" in meta and value > meta["max"]:
            problems.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have "
                f"value less than or equal to {meta['max']}"
            )
        elif "min" in meta and value < meta["min"]:
            problems.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have "
                f"value greater than or equal to {meta['min']}"
            )
    elif shape.type_name == "structure":
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], f"{where}.{_field(name)}", problems)
    elif shape.type_name == "list":
        for item in value:
            _check(shape.member, item, f"{where}.member", problems)
    elif shape.type_name == "map":
        for key, item in value.items():
            _check(shape.value, item, f"{where}.{key}", problems)


def _article(type_name: str) -> str:
    return {
        "structure": "an object",
        "map": "an object",
        "list": "a list",
        "blob": "a base64 string",
        "integer": "an integer",
        "long": "an integer",
        "boolean": "true or false",
    }.get(type_name, f"a {type_name}")


@functools.lru_cache(maxsize=256)
def _pattern(text: str):
    """A model pattern compiled; Java's ``\\p{L}`` classes (tag keys and values) need the ``regex``
    package, and without it such a pattern is not enforced."""
    try:
        return re.compile(text)
    except re.error:
        try:
            import regex
        except ImportError:
            return None
        return regex.compile(text)
