"""API Gateway as an event source: HTTP APIs (payload format 2.0, or 1.0 when asked) and REST APIs with
Lambda proxy (``AWS_PROXY``) integrations (payload format 1.0), configured with the real API Gateway APIs
on the local endpoint and served there, synchronously: the caller waits for the function, nothing is
retried, and the invocation has the same execution environments, logs, metrics and cost as any other.

- apis.py: the APIs, read through ``apigatewayv2`` / ``apigateway`` and cached; routing;
- control.py: around moto's API Gateway apps (cache invalidation, quick create, deployments, ApiEndpoint);
- events.py: the request as payload format 2.0 or 1.0;
- responses.py: the function's output, or the gateway's own error, as the HTTP response;
- gateway.py: the execute-api URLs (``/_aws/execute-api/<api-id>/...`` and ``<api-id>.execute-api.localhost``).

moto serves no execute-api traffic itself, so nothing runs twice.
"""
from __future__ import annotations

from ...source_context import SourceContext
from .apis import ApiDirectory
from .control import ApiGatewayControlPlane
from .gateway import HOST_SUFFIX, PATH_PREFIX, ExecuteApi, run_with_timeout

SOURCE = "aws:apigateway"


def describe(event) -> tuple[str, str, dict] | None:
    """What an API Gateway event (payload 2.0 or 1.0) is about: its route and API."""
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
        route = context.get("routeKey") or f"{method} {event['resource']}"
    else:
        return None
    summary = f"{method} {path} ($default route, api {api})" if route == "$default" else f"{route} (api {api})"
    return SOURCE, summary, {"api": api, "route": route, "method": method, "path": path,
                             "stage": context.get("stage")}


class ApiGatewayEventSource:
    name = "apigateway"
    describe = staticmethod(describe)

    def __init__(self, context: SourceContext):
        self.context = context
        self.directory = ApiDirectory(context.client)
        self.app = ExecuteApi(self.directory, self._invoke, context.report)
        self._service = None

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

    def start(self, service) -> None:
        self._service = service

    def stop(self) -> None:
        self._service = None

    def _invoke(self, function_name: str, event: dict, timeout_s: float):
        service = self._service
        if service is None or service.runtime(function_name) is None:
            raise LookupError(function_name)
        source, summary, subject = describe(event)
        record = service.new_record(event, function_name, trigger="apigateway", source=source, summary=summary,
                                    subject=subject)
        return run_with_timeout(lambda: service.run(record), timeout_s, name=f"apigateway-{function_name}")
