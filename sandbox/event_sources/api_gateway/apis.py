"""APIs as API Gateway serves them, read through API Gateway's own APIs on the local endpoint.

An HTTP API (``apigatewayv2``) has routes, integrations and stages; a REST API (``apigateway``) has
resources with methods, and a stage serves the deployment ``create-deployment`` froze. Routing follows
API Gateway's rules: the most specific path wins, then an exact method over ``ANY``; an HTTP API falls
back to ``$default``. An HTTP API stage serves the current routes (moto keeps no HTTP API deployments).

The routing rules and where the sandbox differs: docs/event-sources.md.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from typing import Any
from urllib.parse import unquote

HTTP_API_TIMEOUT_MS = 30_000  # HTTP APIs: 50 ms to 30 s, default 30 s
REST_API_TIMEOUT_MS = 29_000  # REST APIs: 50 ms to 29 s, default 29 s
_FUNCTION_IN_URI = re.compile(r":function:([^:/]+(?::[^:/]+)?)")  # with its version or alias, if named
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class Integration:
    type: str  # AWS_PROXY (a Lambda function), HTTP_PROXY, MOCK, AWS, HTTP
    # the function's ARN, or arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<ARN>/invocations
    uri: str
    payload_version: str  # "2.0" or "1.0" (REST APIs: always 1.0)
    timeout_ms: int

    def function_name(self, stage_variables: dict) -> str | None:
        """The function an AWS_PROXY integration invokes (``${stageVariables.x}`` filled in), else None."""
        if self.type != "AWS_PROXY":
            return None
        uri = _STAGE_VARIABLE.sub(lambda m: stage_variables.get(m.group(1), ""), self.uri or "")
        found = _FUNCTION_IN_URI.search(uri)
        return found.group(1) if found else None


@dataclass(frozen=True)
class Route:
    key: str  # the routeKey ("GET /items/{id}", "$default"); for a REST API "GET /items/{id}" too
    method: str  # "GET", "ANY", or "" for $default
    path: str  # "/items/{id}" (the REST API's resource path)
    integration: Integration | None
    id: str = ""  # the route's id, or the REST resource's id
    segments: tuple = field(default=(), compare=False)

    @classmethod
    def of(cls, key: str, method: str, path: str, integration: Integration | None, id: str = "") -> Route:
        return cls(key, method.upper(), path, integration, id, tuple(s for s in path.split("/") if s))


@dataclass(frozen=True)
class Stage:
    name: str  # "$default" serves the API's root; any other name is the URL's first segment
    variables: dict
    deployment_id: str | None = None


@dataclass
class Api:
    id: str
    kind: str  # "http" or "rest"
    routes: list  # an HTTP API's routes; a REST API's current resources (undeployed)
    stages: dict  # name -> Stage
    cors: dict | None = None  # an HTTP API's CorsConfiguration
    binary_media_types: tuple = ()  # a REST API's binaryMediaTypes
    name: str = ""
    deployments: dict = field(default_factory=dict)  # a REST API's deployment id -> its routes

    def routes_of(self, stage: Stage) -> list:
        if self.kind == "rest":
            return self.deployments.get(stage.deployment_id, [])
        return self.routes

    def stage_for(self, segments: list[str]) -> tuple[Stage, list[str]] | None:
        """The stage a URL path names, and the path's segments after it: a named stage first, else an HTTP
        API's ``$default`` stage, which serves paths with no stage in them."""
        if segments and segments[0] in self.stages and segments[0] != "$default":
            return self.stages[segments[0]], segments[1:]
        if self.kind == "http" and "$default" in self.stages:
            return self.stages["$default"], segments
        return None


def _rank(route: Route) -> tuple:
    return tuple(2 if s.endswith("+}") else 1 if s.startswith("{") else 0 for s in route.segments)


def _path_parameters(route: Route, segments: list[str]) -> dict | None:
    """The route's path parameters for these (still percent-encoded) segments, decoded; None if no match."""
    found = {}
    for i, part in enumerate(route.segments):
        if part.startswith("{") and part.endswith("+}"):
            if i >= len(segments):
                return None
            found[part[1:-2]] = unquote("/".join(segments[i:]))
            return found
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            found[part[1:-1]] = unquote(segments[i])
        elif part != unquote(segments[i]):
            return None
    return found if len(route.segments) == len(segments) else None


def select_http_route(routes: list, method: str, segments: list[str]) -> tuple[Route, dict] | None:
    """An HTTP API's route for a request: the most specific path among routes of this method or ANY, an
    exact method before ANY; else ``$default``; else None (404)."""
    best = None
    for route in routes:
        if route.key == "$default" or route.method not in (method, "ANY"):
            continue
        parameters = _path_parameters(route, segments)
        if parameters is None:
            continue
        rank = (_rank(route), route.method == "ANY")
        if best is None or rank < best[0]:
            best = (rank, route, parameters)
    if best is not None:
        return best[1], best[2]
    default = next((r for r in routes if r.key == "$default"), None)
    return (default, {}) if default is not None else None


def select_rest_method(routes: list, method: str, segments: list[str]) -> tuple[Route, dict] | None:
    """A REST API's method for a request: the most specific resource, then its method or ANY; None when
    no resource matches or the resource lacks the method (both 403 Missing Authentication Token)."""
    best = None
    for route in routes:
        parameters = _path_parameters(route, segments)
        if parameters is not None and (best is None or _rank(route) < best[0]):
            best = (_rank(route), route.path, parameters)
    if best is None:
        return None
    on_resource = {r.method: r for r in routes if r.path == best[1]}
    chosen = on_resource.get(method) or on_resource.get("ANY")
    return (chosen, best[2]) if chosen is not None else None


class ApiDirectory:
    """The APIs of the local endpoint, read through ``apigatewayv2`` / ``apigateway`` with boto3 and kept
    until ``invalidate()`` (the control plane changed something). REST deployments are snapshots taken
    by ``snapshot_deployment`` when ``create-deployment`` succeeds."""

    def __init__(self, client: Callable[[str], Any], state=None):
        """``state``: the state directory's store (SourceContext.state), where deployments are kept."""
        self._client = client
        self._state = state
        self._lock = threading.Lock()
        self._apis: dict[str, Api | None] = {}
        self._generation = 0
        self._deployments: dict[tuple[str, str], list] = {}

    def api_client(self, name: str):
        """The sandbox's boto3 client of the local endpoint (``apigatewayv2`` or ``apigateway``)."""
        return self._client(name)

    def invalidate(self) -> None:
        with self._lock:
            self._apis.clear()
            self._generation += 1

    def api(self, api_id: str) -> Api | None:
        with self._lock:
            if api_id in self._apis:
                return self._apis[api_id]
            generation = self._generation
        api = self._load(api_id)
        with self._lock:
            if generation == self._generation:  # not changed meanwhile: keep it
                self._apis[api_id] = api
        return api

    def all(self) -> list[Api]:
        """Every HTTP and REST API of the endpoint."""
        ids = [a["ApiId"] for a in _pages(self.api_client("apigatewayv2").get_apis)]
        ids += [
            a["id"]
            for a in _pages(
                self.api_client("apigateway").get_rest_apis, token=("position", "position"), items="items"
            )
        ]
        return [api for api in map(self.api, ids) if api is not None]

    def snapshot_deployment(self, api_id: str, deployment_id: str) -> None:
        """What ``create-deployment`` froze: the REST API's resources, methods and integrations now."""
        self._deployments[(api_id, deployment_id)] = self._rest_routes(api_id)
        if self._state is not None:  # moto keeps no deployment's routes: a restart must find them here
            self._state.save(
                f"api-deployments/{api_id}",
                {
                    key[1]: [
                        [r.key, r.method, r.path, r.integration and list(astuple(r.integration)), r.id]
                        for r in routes
                    ]
                    for key, routes in self._deployments.items()
                    if key[0] == api_id
                },
            )

    def _kept_deployments(self, api_id: str) -> None:
        """After a restart: the deployments a state directory kept for this API."""
        kept = self._state.load(f"api-deployments/{api_id}") if self._state is not None else None
        for deployment_id, routes in (kept or {}).items():
            self._deployments.setdefault(
                (api_id, deployment_id),
                [
                    Route.of(key, method, path, Integration(*integration) if integration else None, route_id)
                    for key, method, path, integration, route_id in routes
                ],
            )

    # -- reading ---------------------------------------------------------------------------------
    def _load(self, api_id: str) -> Api | None:
        from botocore.exceptions import ClientError

        try:
            found = self.api_client("apigatewayv2").get_api(ApiId=api_id)
            if found.get("ProtocolType") == "HTTP":
                return self._http_api(found)
            return None  # WebSocket APIs are not served
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("NotFoundException", "NotFound"):
                raise
        try:
            rest = self.api_client("apigateway").get_rest_api(restApiId=api_id)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NotFoundException", "NotFound"):
                return None
            raise
        return self._rest_api(rest)

    def _http_api(self, found: dict) -> Api:
        v2, api_id = self.api_client("apigatewayv2"), found["ApiId"]
        integrations = {
            i["IntegrationId"]: Integration(
                i.get("IntegrationType", ""),
                i.get("IntegrationUri", ""),
                i.get("PayloadFormatVersion") or "2.0",
                int(i.get("TimeoutInMillis") or HTTP_API_TIMEOUT_MS),
            )
            for i in _pages(v2.get_integrations, ApiId=api_id)
        }
        routes = []
        for r in _pages(v2.get_routes, ApiId=api_id):
            key = r["RouteKey"]
            method, _, path = key.partition(" ") if key != "$default" else ("", "", "")
            target = r.get("Target") or ""
            integration = (
                integrations.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
            )
            routes.append(Route.of(key, method, path, integration, r.get("RouteId", "")))
        stages = {
            s["StageName"]: Stage(s["StageName"], dict(s.get("StageVariables") or {}))
            for s in _pages(v2.get_stages, ApiId=api_id)
        }
        return Api(
            api_id,
            "http",
            routes,
            stages,
            cors=found.get("CorsConfiguration") or None,
            name=found.get("Name", ""),
        )

    def _rest_api(self, rest: dict) -> Api:
        api_id = rest["id"]
        stages = {
            s["stageName"]: Stage(s["stageName"], dict(s.get("variables") or {}), s.get("deploymentId"))
            for s in self.api_client("apigateway").get_stages(restApiId=api_id).get("item", [])
        }
        if not any(key[0] == api_id for key in self._deployments):
            self._kept_deployments(api_id)
        deployments = {key[1]: routes for key, routes in self._deployments.items() if key[0] == api_id}
        return Api(
            api_id,
            "rest",
            self._rest_routes(api_id),
            stages,
            binary_media_types=tuple(rest.get("binaryMediaTypes") or ()),
            deployments=deployments,
            name=rest.get("name", ""),
        )

    def _rest_routes(self, api_id: str) -> list:
        routes = []
        for resource in _pages(
            self.api_client("apigateway").get_resources,
            restApiId=api_id,
            embed=["methods"],
            token=("position", "position"),
            items="items",
        ):
            for method, spec in (resource.get("resourceMethods") or {}).items():
                found = spec.get("methodIntegration")
                integration = (
                    Integration(
                        found.get("type", ""),
                        found.get("uri", ""),
                        "1.0",
                        int(found.get("timeoutInMillis") or REST_API_TIMEOUT_MS),
                    )
                    if found
                    else None
                )
                routes.append(
                    Route.of(
                        f"{method} {resource['path']}", method, resource["path"], integration, resource["id"]
                    )
                )
        return routes


def _pages(call, token=("NextToken", "NextToken"), items="Items", **kwargs) -> list:
    """Every item of a paginated listing (``token``: the request's and the response's name for it)."""
    found, marker = [], None
    while True:
        page = call(**kwargs, **({token[0]: marker} if marker else {}))
        found += page.get(items, [])
        marker = page.get(token[1])
        if not marker:
            return found
