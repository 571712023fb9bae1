"""Comparing an event with AWS's reference events (references/, see SOURCES.md): the key set at every
level, the value types, and the formats of ids, ARNs, times and encodings.

- ``paths(event)``: every key path (``requestContext/http/method``); a list of objects is one ``[]`` level;
  below an open map (headers, query parameters, images, ...: its keys are the caller's) only the map itself.
- ``compare(event, primary, others, optional=..., nullable=...)``: the differences, as sentences; empty
  when the event has every key of the primary reference (less the request-dependent ``optional`` ones),
  no key that no reference has, and each value of the type the references give it.
- ``FORMATS`` and ``check_formats(event, checks)``: small format checkers (regexes and predicates).
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from helpers.paths import FIDELITY_REFERENCES as REFERENCES

# Maps whose keys come from the request or the data (header names, query parameters, item attributes,
# a rule's detail, message attributes): their own keys are not part of the event's shape.
OPEN_MAPS = {
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "messageAttributes",
    "Keys",
    "NewImage",
    "OldImage",
    "detail",
    "authorizer",
    "authentication",
    "clientCert",
}


def reference(name: str) -> dict:
    return json.loads((REFERENCES / name).read_text())


def paths(value, prefix: str = "") -> dict[str, object]:
    """{path: a value found there}; the value of a ``[]`` path is its first element's."""
    found: dict[str, object] = {}
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}{key}"
            found[path] = child
            if key not in OPEN_MAPS:
                found.update(paths(child, path + "/"))
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        found.update(paths(value[0], prefix.rstrip("/") + "[]/"))
    return found


def kind(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", dict: "object", list: "array", type(None): "null"}[type(value)]


def compare(
    event: dict,
    primary: dict,
    others: tuple[dict, ...] = (),
    *,
    optional: set[str] = frozenset(),
    nullable: set[str] = frozenset(),
) -> list[str]:
    """What differs between ``event`` and the references. ``optional``: keys that are there or not
    depending on the request (a path, or a path prefix ending in ``/``); ``nullable``: keys whose value is
    null or not depending on the request."""
    mine, want = paths(event), paths(primary)
    every = {p: v for ref in (primary, *others) for p, v in paths(ref).items()}

    def is_optional(path: str) -> bool:
        return path in optional or any(path.startswith(o) for o in optional if o.endswith("/"))

    problems = [
        f"missing {p!r} (reference has {kind(want[p])})"
        for p in sorted(set(want) - set(mine))
        if not is_optional(p)
    ]
    problems += [
        f"extra {p!r} = {mine[p]!r:.60} (in no reference)"
        for p in sorted(set(mine) - set(every))
        if not is_optional(p)
    ]
    for path in sorted(set(mine) & set(every)):
        kinds = {kind(paths(ref).get(path)) for ref in (primary, *others) if path in paths(ref)}
        got = kind(mine[path])
        if got in kinds or (path in nullable and (got == "null" or "null" in kinds)):
            continue
        problems.append(f"{path!r} is {got} ({mine[path]!r:.60}); references have {'/'.join(sorted(kinds))}")
    return problems


# -- formats -----------------------------------------------------------------------------------------
def _b64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
        return True
    except (binascii.Error, ValueError):
        return False


FORMATS = {
    "uuid": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "iso-ms-z": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"),  # S3 eventTime
    "iso-z": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"),  # EventBridge time: whole seconds
    "clf-time": re.compile(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$"),  # API Gateway requestTime
    "epoch-ms": re.compile(r"^\d{13}$"),
    "s3-request-id": re.compile(r"^[0-9A-F]{16}$"),
    "s3-host-id": re.compile(r"^[A-Za-z0-9+/]{40,}={0,2}$"),
    "sequencer": re.compile(r"^[0-9A-F]{16,}$"),
    "md5-hex": re.compile(r"^[0-9a-f]{32}$"),
    "etag": re.compile(r"^[0-9a-f]{32}(-\d+)?$"),
    "ip": re.compile(r"^\d{1,3}(\.\d{1,3}){3}$"),
    "account": re.compile(r"^\d{12}$"),
    "principal": re.compile(r"^(AWS:)?[A-Z0-9]{10,}(:[\w+=,.@-]+)?$"),
    "s3-bucket-arn": re.compile(r"^arn:aws:s3:::[a-z0-9.-]{3,63}$"),
    "sqs-arn": re.compile(r"^arn:aws:sqs:[a-z0-9-]+:\d{12}:[\w-]{1,80}(\.fifo)?$"),
    "stream-arn": re.compile(
        r"^arn:aws:dynamodb:[a-z0-9-]+:\d{12}:table/[\w.-]+/stream/"
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$"
    ),
    "rule-arn": re.compile(r"^arn:aws:events:[a-z0-9-]+:\d{12}:rule/[\w.-]+$"),
    "schedule-arn": re.compile(r"^arn:aws:scheduler:[a-z0-9-]+:\d{12}:schedule/[\w.-]+/[\w.-]+$"),
    "ddb-event-id": re.compile(r"^[0-9a-f]{32}$"),
    "ddb-sequence": re.compile(r"^\d{21,40}$"),
    "fifo-sequence": re.compile(r"^\d{20}$"),
    "sender-id": re.compile(r"^(\d{12}|[A-Z0-9]{21}(:[\w+=,.@-]+)?)$"),
    "apigw-id": re.compile(r"^[A-Za-z0-9_-]{15}=$"),  # REST extendedRequestId, HTTP API requestId
    "api-id": re.compile(r"^[a-z0-9]{10}$"),
    "resource-id": re.compile(r"^[a-z0-9]{6}$"),
    "trace-id": re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;.*)?$"),
    "digits": re.compile(r"^\d+$"),
    "base64": _b64,
}


def check_formats(event: dict, checks: dict[str, str]) -> list[str]:
    """``checks``: {path: format name}; a path as ``paths`` writes it. A missing path is left to
    ``compare``."""
    found, problems = paths(event), []
    for path, name in checks.items():
        if path not in found:
            continue
        value, check = found[path], FORMATS[name]
        ok = (
            check(value)
            if callable(check) and not hasattr(check, "match")
            else (isinstance(value, str) and check.match(value) is not None)
        )
        if not ok:
            problems.append(f"{path!r} = {value!r} is not of the {name} format")
    return problems


PENDING: dict = {}


REPORTED = {
    "rest-resource-id": (
        "REST API resource ids are moto's 10 characters; AWS's are 6 (roq9wj)",
        lambda k, p: k == "rest" and "resourceId" in p,
    ),
    "http-api-id": (
        "HTTP API ids are moto's 8 characters; AWS's API ids are 10 (gy415nuibc)",
        lambda k, p: k.startswith("http") and "apiId" in p,
    ),
}


KNOWN = {**PENDING, **REPORTED}


def pending_of(kind: str, problem: str) -> str | None:
    return next((name for name, (_, applies) in KNOWN.items() if applies(kind, problem)), None)


SQS_FORMATS = {
    "messageId": "uuid",
    "md5OfBody": "md5-hex",
    "eventSourceARN": "sqs-arn",
    "attributes/SentTimestamp": "epoch-ms",
    "attributes/ApproximateFirstReceiveTimestamp": "epoch-ms",
    "attributes/ApproximateReceiveCount": "digits",
    "attributes/SenderId": "sender-id",
    "attributes/SequenceNumber": "fifo-sequence",
}


APIGW_FORMATS = {
    "requestContext/accountId": "account",
    "requestContext/apiId": "api-id",
    "requestContext/requestTime": "clf-time",
    "requestContext/time": "clf-time",
    "requestContext/identity/sourceIp": "ip",
    "requestContext/http/sourceIp": "ip",
}
