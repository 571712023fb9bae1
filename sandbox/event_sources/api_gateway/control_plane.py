"""API Gateway's control plane on the local endpoint: moto stores the APIs; this layer, wrapped around
moto's ``apigateway`` and ``apigatewayv2`` applications, does what moto leaves out.

Every successful change drops the cached APIs; an HTTP API's quick create (``create-api --target``) gets
its integration, route and ``$default`` stage; a REST API's ``create-deployment`` freezes its resources;
``ApiEndpoint`` names the API's URL on this endpoint.

What each of these does: docs/event-sources.md.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

from sandbox.wsgi import call, read_body

_HTTP_APIS = re.compile(r"^/v2/apis/?(?P<id>[^/]*)/?$")
_REST_DEPLOYMENTS = re.compile(r"^/restapis/(?P<id>[^/]+)/deployments/?$")
_AWS_ENDPOINT = re.compile(r"https://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com")
HOST_SUFFIX = ".execute-api.localhost"


class ApiGatewayControlPlane:
    def __init__(self, app, directory, client: Callable[[str], Any]):
        self.app = app
        self.directory = directory
        self.client = client

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        shows_endpoint = _HTTP_APIS.match(path) is not None
        if method == "GET" and not shows_endpoint:
            return self.app(environ, start_response)
        request = read_body(environ) if method != "GET" else b""
        answer = call(self.app, environ)
        status, headers, body, succeeded = answer.status, answer.headers, answer.body, answer.ok
        if succeeded and method != "GET":
            self.directory.invalidate()
            try:
                self._after_change(method, path, request, body)
            except Exception as exc:  # the change itself succeeded; say what could not follow it
                print(f"sandbox: API Gateway: {exc}", file=sys.stderr)
        if succeeded and shows_endpoint:
            port = environ.get("SERVER_PORT", "80")
            body = _AWS_ENDPOINT.sub(
                lambda m: f"http://{m.group(1)}{HOST_SUFFIX}:{port}", body.decode()
            ).encode()
            headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
        start_response(status, headers)
        return [body]

    def _after_change(self, method: str, path: str, request: bytes, body: bytes) -> None:
        if method == "POST" and path.rstrip("/") == "/v2/apis":
            asked = _json(request)
            if asked.get("target"):
                self._quick_create(_json(body)["apiId"], asked["target"], asked.get("routeKey") or "$default")
        deployment = _REST_DEPLOYMENTS.match(path)
        if method == "POST" and deployment:
            self.directory.snapshot_deployment(deployment.group("id"), _json(body)["id"])

    def _quick_create(self, api_id: str, target: str, route_key: str) -> None:
        v2 = self.client("apigatewayv2")
        integration = v2.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=target,
            IntegrationMethod="POST",
            PayloadFormatVersion="2.0",
        )
        v2.create_route(
            ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integration['IntegrationId']}"
        )
        v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)


def _json(data: bytes) -> dict:
    try:
        found = json.loads(data or b"{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
