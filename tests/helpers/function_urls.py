"""Calling a function URL from a test: the URL id of a configuration, and a request to either URL form."""

from __future__ import annotations

import http.client

FUNCTION = "ImageResizeLambda"


def url_id(config: dict) -> str:
    return config["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]


def call(sb, config, path="/", method="GET", body=None, headers=None, host_form=True):
    """Python does not resolve *.localhost: it connects to 127.0.0.1 with the URL's Host."""
    headers = dict(headers or {})
    if host_form:
        headers["Host"] = config["FunctionUrl"].split("//", 1)[1].rstrip("/")
        target = path
    else:
        target = f"/_aws/lambda-url/{url_id(config)}{path}"
    connection = http.client.HTTPConnection("127.0.0.1", sb.endpoint.port, timeout=60)
    connection.request(method, target, body=body, headers=headers)
    response = connection.getresponse()
    answer = (response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    connection.close()
    return answer
