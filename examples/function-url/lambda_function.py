"""A function behind its own function URL: ``GET /?name=Ada`` or ``POST /`` with ``{"name": "Ada"}`` answers
a greeting as JSON. Invoked asynchronously (``--invocation-type Event``) it greets the event's ``name``;
its on-success destination then receives Lambda's invocation record."""

import base64
import json


def lambda_handler(event, context):
    if "requestContext" not in event:  # an asynchronous invocation with a plain event
        if event.get("fail"):
            raise ValueError(f"asked to fail for {event.get('name')}")
        return {"greeting": f"Hello, {event.get('name', 'world')}!"}
    name = (event.get("queryStringParameters") or {}).get("name")
    if event.get("body"):
        body = base64.b64decode(event["body"]) if event.get("isBase64Encoded") else event["body"]
        try:
            name = json.loads(body).get("name", name)
        except (ValueError, AttributeError):
            return {
                "statusCode": 400,
                "body": json.dumps({"message": 'send JSON like {"name": "Ada"}'}),
                "headers": {"Content-Type": "application/json"},
            }
    http = event["requestContext"]["http"]
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {
                "greeting": f"Hello, {name or 'world'}!",
                "method": http["method"],
                "path": http["path"],
                "requestId": context.aws_request_id,
            }
        ),
    }
