"""API Gateway as an event source: HTTP APIs and REST APIs with Lambda proxy (``AWS_PROXY``) integrations,
configured with the real API Gateway APIs on the local endpoint and served there, synchronously.

apis.py (the APIs and routing), control_plane.py (around moto's API Gateway apps), events.py (the request
as payload format 2.0 or 1.0), responses.py (the function's output as the HTTP response), gateway.py (the
execute-api URLs). moto serves no execute-api traffic itself, so nothing runs twice.

AWS's semantics and where the sandbox differs: docs/event-sources.md.
"""

from __future__ import annotations

import time

from sandbox.event_sources.api_gateway.apis import ApiDirectory, Route
from sandbox.event_sources.api_gateway.control_plane import ApiGatewayControlPlane
from sandbox.event_sources.api_gateway.events import (
    ApiRequest,
    event_trace_root,
    http_api_event,
    new_request_ids,
    proxy_event,
)
from sandbox.event_sources.api_gateway.gateway import HOST_SUFFIX, PATH_PREFIX, ExecuteApi, run_with_timeout
from sandbox.event_sources.base import EventSource, SourceContext, trace_hop
from sandbox.lambda_.recursion import new_trace_id

SOURCE = "aws:apigateway"


def describe(event, route_key: str | None = None) -> tuple[str, str, dict] | None:
    """What an API Gateway event (payload 2.0 or 1.0) is about: its route (``route_key`` when the gateway
    knows it: a 1.0 event names no route, only its resource path) and API."""
    if not isinstance(event, dict) or not isinstance(event.get("requestContext"), dict):
        return None
    context = event["requestContext"]
    api = context.get("apiId")
    if not api:
        return None
    if event.get("version") == "2.0" and "routeKey" in event and isinstance(context.get("http"), dict):
        method, path, route = context["http"].get("method"), event.get("rawPath"), event["routeKey"]
    elif "httpMethod" in event and "resource" in event:
        method, path = event["httpMethod"], event.get("path")
        route = f"{method} {event['resource']}"
    else:
        return None
    route = route_key or route
    summary = (
        f"{method} {path} ($default route, api {api})" if route == "$default" else f"{route} (api {api})"
    )
    return (
        SOURCE,
        summary,
        {"api": api, "route": route, "method": method, "path": path, "stage": context.get("stage")},
    )


def sample_event(kind: str, method: str = "GET", path: str = "/items/42", body: str | None = None) -> dict:
    """A complete event as API Gateway sends it (``run_local.py generate-event``, like ``sam local
    generate-event apigateway http-api-proxy | aws-proxy``): ``kind`` "http-api" (payload 2.0, the
    ``$default`` route) or "aws-proxy" (a REST API's ``/{proxy+}`` on stage ``prod``)."""
    api = "abcd1234" if kind == "http-api" else "abcd123456"
    request = ApiRequest(
        method=method.upper(),
        path=path,
        stage_prefix="",
        query_string="",
        headers=[("host", f"{api}{HOST_SUFFIX}:4566"), ("user-agent", "curl/8.5.0"), ("accept", "*/*")]
        + ([("content-type", "application/json")] if body else []),
        body=(body or "").encode(),
        source_ip="127.0.0.1",
        domain_name=f"{api}{HOST_SUFFIX}",
        port="4566",
    )
    if kind == "http-api":
        return http_api_event(request, api, "$default", "$default", {}, {}, new_request_ids()[1])
    request.stage_prefix = "/prod"
    route = Route.of("ANY /{proxy+}", "ANY", "/{proxy+}", None, id="a1b2c3")
    return proxy_event(
        request,
        api,
        route,
        "prod",
        {"proxy": path.strip("/")} if path.strip("/") else {},
        {},
        new_request_ids(),
    )


def _function_trace(function_name: str, event: dict) -> str:
    """The function's trace header (``_X_AMZN_TRACE_ID``): the same trace as the event's
    ``x-amzn-trace-id`` (same Root), with the Lambda segment's own Parent, as on AWS. AWS samples as the
    stage's X-Ray tracing says; here always ``Sampled=0`` (the page shows every trace, see docs/page.md)."""
    return new_trace_id(function_name, 1, root=event_trace_root(event))


class ApiGatewayEventSource(EventSource):
    name = "apigateway"
    describe = staticmethod(describe)

    def __init__(self, context: SourceContext):
        self.context = context
        self.directory = ApiDirectory(context.client, context.state)
        self.app = ExecuteApi(self.directory, self._invoke, context.report)
        self.app.on_answered = self._answered
        self._service = None

    def _answered(self, record, status: int, started: float) -> None:
        """The request's hop on its trace: API Gateway's method and path, to the status it answered."""
        subject = record.subject or {}
        trace_hop(
            self.context,
            record.trace_id,
            "API Gateway",
            f"{subject.get('method')} {subject.get('path')}",
            f"{subject.get('api')} ({subject.get('route')}, stage {subject.get('stage')})",
            started,
            time.time(),
            outcome=str(status),
            detail="synchronous invoke",
        )

    def service_middleware(self) -> dict:
        def wrap(app):
            return ApiGatewayControlPlane(app, self.directory, self.directory.api_client)

        return {"apigateway": wrap, "apigatewayv2": wrap}

    def routes(self) -> dict:
        """Public URLs served at a path prefix of the endpoint."""
        return {PATH_PREFIX: self.app}

    def host_routes(self) -> list:
        """Public URLs served on Host names ending in a suffix."""
        return [(HOST_SUFFIX, self.app)]

    def triggers(self) -> list[dict]:
        """Every API route that invokes a function, per stage, as the page and `run_local.py triggers` list
        them."""
        endpoint = self.directory.api_client("apigatewayv2").meta.endpoint_url
        port = endpoint.rsplit(":", 1)[-1].strip("/")
        found = []
        for api in self.directory.all():
            kind = "HTTP API" if api.kind == "http" else "REST API"
            for stage in api.stages.values():
                url = f"http://{api.id}{HOST_SUFFIX}:{port}" + (
                    "" if stage.name == "$default" else f"/{stage.name}"
                )
                for route in api.routes_of(stage):
                    function = route.integration.function_name(stage.variables) if route.integration else None
                    found.append(
                        {
                            "kind": kind,
                            "source": f"{api.name or api.id} ({api.id})",
                            "function": function,
                            "detail": f"{route.key} (stage {stage.name})",
                            "url": url,
                            "state": "Enabled" if function else "No Lambda proxy integration",
                        }
                    )
        return found

    def start(self, service) -> None:
        self._service = service

    def stop(self) -> None:
        self._service = None

    def _invoke(self, function_name: str, event: dict, timeout_s: float, route_key: str):
        service = self._service
        if service is None or service.runtime(function_name) is None:
            raise LookupError(function_name)
        source, summary, subject = describe(event, route_key)
        record = service.new_record(
            event,
            function_name,
            trigger="apigateway",
            source=source,
            summary=summary,
            subject=subject,
            trace_id=_function_trace(function_name, event),
            how_detected=(
                f"API Gateway received {subject['method']} {subject['path']} for API {subject['api']} "
                f"(stage {subject['stage']}) and matched the route {subject['route']}"
            ),
            how_responded=(
                f"synchronous: API Gateway waits for the function (at most {timeout_s:g} s) and turns "
                "its output into the HTTP response; nothing is retried"
            ),
        )
        return run_with_timeout(lambda: service.run(record), timeout_s, name=f"apigateway-{function_name}")
