"""A function behind API Gateway for the tests: the request's last path segment says what to answer."""

import base64
import json
import math
import os
import time


def lambda_handler(event, context):
    path = event.get("rawPath") or event.get("path") or "/"
    action = path.rstrip("/").rsplit("/", 1)[-1]
    if action == "raise":
        raise ValueError("boom")
    if action == "sleep":
        query = event.get("queryStringParameters") or {}
        time.sleep(float(query.get("seconds", "3")))
        return {"statusCode": 200, "body": "slept"}
    if action == "inferred":
        return {"hello": "world"}  # no statusCode: payload 2.0 infers the response
    if action == "text":
        return "just a string"
    if action == "bad-status":
        return {"statusCode": "teapot", "body": "x"}
    if action == "object-body":
        return {"statusCode": 200, "body": {"not": "a string"}}
    if action == "extra-key":
        return {"statusCode": 200, "body": "x", "unexpected": True}
    if action == "binary":
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "isBase64Encoded": True,
            "body": base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\xff").decode(),
        }
    if action == "headers":
        response = {
            "statusCode": 201,
            "headers": {"X-Single": "one", "Content-Type": "text/plain"},
            "body": "headers",
        }
        if event.get("version") == "2.0":  # cookies are payload 2.0's; 1.0 has multiValueHeaders
            return dict(response, cookies=["c1=v1; Path=/", "c2=v2"])
        return dict(response, multiValueHeaders={"X-Multi": ["a", "b"]})
    if action in OUTPUTS:
        return OUTPUTS[action]()
    if action == "trace":  # the trace header of the event and the one of the environment
        return {
            "statusCode": 200,
            "body": json.dumps({"event": event, "environment": os.environ.get("_X_AMZN_TRACE_ID")}),
        }
    if action == "cors":
        return {
            "statusCode": 200,
            "headers": {"Access-Control-Allow-Origin": "https://from-function.example"},
            "body": "cors",
        }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}


# Outputs API Gateway must turn into a response (or refuse), by the path's last segment.
OUTPUTS = {
    "list": lambda: [1, "two"],
    "none": lambda: None,
    "nan": lambda: {"statusCode": 200, "body": "x", "headers": {"X-Value": math.nan}},  # json writes NaN
    "unserialisable": lambda: {"statusCode": 200, "body": {1, 2}},  # the runtime cannot marshal a set
    "bad-base64": lambda: {
        "statusCode": 200,
        "isBase64Encoded": True,
        "body": "not base64!",
        "headers": {"Content-Type": "image/png"},
    },
    "cookies": lambda: {"statusCode": 200, "cookies": ["a=1", "b=2; Secure"], "body": "cookies"},
    "multi-value-headers": lambda: {
        "statusCode": 200,
        "multiValueHeaders": {"X-Multi": ["a", "b"]},
        "headers": {"X-Single": "s"},
        "body": "multi",
    },
}
