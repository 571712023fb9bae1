"""The "Hello World" function of AWS's SAM quick start (python3.12/hello), kept to its essentials."""

import json


def lambda_handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps({"message": "hello world"}),
    }
