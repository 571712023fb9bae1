"""API Gateway: REST APIs (``AWS::Serverless::Api`` and SAM's implicit ``ServerlessRestApi``) and HTTP APIs
(``AWS::Serverless::HttpApi``, ``ServerlessHttpApi``), with their stages and deployments.

The SAM transform describes an API as an OpenAPI document (``Body``) whose operations carry
``x-amazon-apigateway-integration``. The sandbox creates what API Gateway's import would: a REST API's
resources, methods and Lambda proxy integrations (``create-resource``, ``put-method``,
``put-integration``), an HTTP API's integrations and routes (``create-integration``, ``create-route``);
the API Gateway event source (sandbox/event_sources/api_gateway/) then serves them. What the document
asks for beyond Lambda proxy integrations (authorizers, validators, MOCK integrations such as SAM's
``Cors`` on a REST API) is refused by name before anything is created.
"""

from __future__ import annotations

from sandbox.sam.resources import Created, Kind, generated_name, tags_dict

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "x-amazon-apigateway-any-method"}
_OPERATION_KEYS = {
    "x-amazon-apigateway-integration",
    "responses",
    "parameters",
    "produces",
    "consumes",
    "summary",
    "description",
    "operationId",
    "tags",
    "requestBody",
    "deprecated",
    "x-amazon-apigateway-auth",
}
_DOCUMENT_KEYS = {
    "swagger",
    "openapi",
    "info",
    "paths",
    "basePath",
    "schemes",
    "host",
    "definitions",
    "components",
    "tags",
    "servers",
    "produces",
    "consumes",
    "x-amazon-apigateway-binary-media-types",
    "x-amazon-apigateway-cors",
    "x-amazon-apigateway-importexport-version",
}
_NO_EFFECT_EXTENSIONS = {
    "x-amazon-apigateway-policy",
    "x-amazon-apigateway-endpoint-configuration",
    "x-amazon-apigateway-api-key-source",
    "x-amazon-apigateway-minimum-compression-size",
}
LOCAL_ENDPOINT = "the API is served on the local endpoint (no edge, regional or private endpoint)"


def _operations(document: dict):
    """(path, method, operation) of every operation in an OpenAPI document."""
    for path, item in (document.get("paths") or {}).items():
        for method, operation in (item or {}).items() if isinstance(item, dict) else ():
            if method in METHODS:
                yield str(path), str(method), operation if isinstance(operation, dict) else {}


def document_problems(document, protocol: str) -> list[str]:
    """What of an API's OpenAPI ``Body`` the sandbox can't serve, each naming its place."""
    if not isinstance(document, dict):
        return []
    problems = []
    for key in document:
        if key in ("securityDefinitions", "security", "x-amazon-apigateway-authorizer"):
            problems.append(
                f"Body.{key}: authorizers are not run by the sandbox (every request reaches the function)"
            )
        elif key.startswith("x-amazon-apigateway-") and key not in _DOCUMENT_KEYS | _NO_EFFECT_EXTENSIONS:
            problems.append(f"Body.{key} is not run by the sandbox")
    if isinstance(document.get("components"), dict) and "securitySchemes" in document["components"]:
        problems.append("Body.components.securitySchemes: authorizers are not run by the sandbox")
    for path, method, operation in _operations(document):
        where = f"Body.paths.{path}.{method}"
        if operation.get("security"):
            problems.append(f"{where}.security: authorizers are not run by the sandbox")
        integration = operation.get("x-amazon-apigateway-integration")
        if not isinstance(integration, dict):
            problems.append(
                f"{where}: an operation without a Lambda proxy integration is not served by the sandbox"
            )
            continue
        kind = str(integration.get("type", "")).lower()
        if kind != "aws_proxy":
            what = (
                " (API Gateway answering OPTIONS itself, as SAM's Cors makes on a REST API)"
                if kind == "mock"
                else ""
            )
            problems.append(
                f"{where}: {kind.upper() or 'an'} integration{what}: the sandbox runs Lambda proxy "
                f"(AWS_PROXY) integrations only"
            )
        for key in set(operation) - _OPERATION_KEYS:
            if key.startswith("x-amazon-apigateway-"):
                problems.append(f"{where}.{key} is not run by the sandbox")
    return problems


def document_notes(document) -> list[str]:
    return (
        [
            f"Body.{key}: {LOCAL_ENDPOINT}"
            if "endpoint" in key
            else f"Body.{key}: stored, not enforced by the sandbox"
            for key in (document or {})
            if key in _NO_EFFECT_EXTENSIONS
        ]
        if isinstance(document, dict)
        else []
    )


def _route_key(method: str, path: str) -> str:
    if path in ("$default", "/$default"):
        return "$default"
    return f"{'ANY' if method == 'x-amazon-apigateway-any-method' else method.upper()} {path}"


class RestApi(Kind):
    type = "AWS::ApiGateway::RestApi"
    properties = frozenset(
        {
            "Body",
            "Name",
            "Description",
            "BinaryMediaTypes",
            "Tags",
            "FailOnWarnings",
            "DisableExecuteApiEndpoint",
            "Mode",
        }
    )
    noted = {
        "EndpointConfiguration": LOCAL_ENDPOINT,
        "MinimumCompressionSize": "responses are not compressed here",
        "Policy": "the resource policy is stored, not enforced by the sandbox",
        "ApiKeySourceType": "API keys are not enforced by the sandbox",
    }

    def check(self, logical_id, props, plan) -> list[str]:
        for note in document_notes(props.get("Body")):
            plan.note(logical_id, note)
        return document_problems(props.get("Body"), "rest")

    def create(self, logical_id, props, ctx) -> Created:
        api = ctx.client("apigateway")
        body = props.get("Body") or {}
        request = {"name": props.get("Name") or (body.get("info") or {}).get("title") or logical_id}
        media_types = list(
            props.get("BinaryMediaTypes") or body.get("x-amazon-apigateway-binary-media-types") or []
        )
        if media_types:
            request["binaryMediaTypes"] = [str(m).replace("~1", "/") for m in media_types]
        if "Description" in props:
            request["description"] = props["Description"]
        if props.get("Tags"):
            request["tags"] = tags_dict(props["Tags"])
        if "DisableExecuteApiEndpoint" in props:
            request["disableExecuteApiEndpoint"] = str(props["DisableExecuteApiEndpoint"]).lower() == "true"
        api_id = api.create_rest_api(**request)["id"]
        resources = {r["path"]: r["id"] for r in api.get_resources(restApiId=api_id)["items"]}
        for path, method, operation in sorted(_operations(body)):
            resource_id = self._resource(api, api_id, resources, path)
            http_method = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            integration = operation["x-amazon-apigateway-integration"]
            api.put_method(
                restApiId=api_id, resourceId=resource_id, httpMethod=http_method, authorizationType="NONE"
            )
            extra = (
                {"timeoutInMillis": int(integration["timeoutInMillis"])}
                if "timeoutInMillis" in integration
                else {}
            )
            api.put_integration(
                restApiId=api_id,
                resourceId=resource_id,
                httpMethod=http_method,
                type="AWS_PROXY",
                integrationHttpMethod="POST",
                uri=integration["uri"],
                **extra,
            )
        return Created(api_id, api_id, {"RestApiId": api_id, "RootResourceId": resources["/"]})

    @staticmethod
    def _resource(api, api_id: str, resources: dict, path: str) -> str:
        """The id of the resource at ``path``, creating it and its missing parents as API Gateway's import
        does."""
        path = "/" + path.strip("/")
        if path in resources:
            return resources[path]
        parent, _, part = path.rpartition("/")
        parent_id = RestApi._resource(api, api_id, resources, parent or "/")
        resources[path] = api.create_resource(restApiId=api_id, parentId=parent_id, pathPart=part)["id"]
        return resources[path]

    def delete(self, created, ctx) -> None:
        ctx.client("apigateway").delete_rest_api(restApiId=created.physical_id)


class Resource(Kind):
    type = "AWS::ApiGateway::Resource"
    properties = frozenset({"ParentId", "PathPart", "RestApiId"})

    def create(self, logical_id, props, ctx) -> Created:
        found = ctx.client("apigateway").create_resource(
            restApiId=props["RestApiId"], parentId=props["ParentId"], pathPart=props["PathPart"]
        )
        return Created(found["id"], found["id"], {"ResourceId": found["id"]})


class Method(Kind):
    type = "AWS::ApiGateway::Method"
    properties = frozenset(
        {"RestApiId", "ResourceId", "HttpMethod", "AuthorizationType", "Integration", "OperationName"}
    )
    noted = {
        "MethodResponses": "a Lambda proxy integration's response is the function's own",
        "RequestParameters": "request parameters are passed through, not validated, by the sandbox",
    }

    def check(self, logical_id, props, plan) -> list[str]:
        problems = []
        if str(props.get("AuthorizationType", "NONE")).upper() != "NONE":
            problems.append(
                f"AuthorizationType {props['AuthorizationType']}: authorizers are not run by the sandbox"
            )
        integration_type = str((props.get("Integration") or {}).get("Type", "")).upper()
        if integration_type != "AWS_PROXY":
            problems.append(
                f"Integration.Type {integration_type or '(none)'}: the sandbox runs Lambda proxy "
                f"(AWS_PROXY) integrations only"
            )
        return problems

    def create(self, logical_id, props, ctx) -> Created:
        api, integration = ctx.client("apigateway"), props["Integration"]
        method = str(props["HttpMethod"]).upper()
        api.put_method(
            restApiId=props["RestApiId"],
            resourceId=props["ResourceId"],
            httpMethod=method,
            authorizationType="NONE",
        )
        extra = (
            {"timeoutInMillis": int(integration["TimeoutInMillis"])}
            if "TimeoutInMillis" in integration
            else {}
        )
        api.put_integration(
            restApiId=props["RestApiId"],
            resourceId=props["ResourceId"],
            httpMethod=method,
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=integration["Uri"],
            **extra,
        )
        name = f"{props['RestApiId']}-{props['ResourceId']}-{method}"
        return Created(name, name)


class Deployment(Kind):
    type = "AWS::ApiGateway::Deployment"
    properties = frozenset({"RestApiId", "StageName", "Description"})
    noted = {
        "StageDescription": "stage settings (throttling, caching, logging) are not applied by the sandbox"
    }

    def create(self, logical_id, props, ctx) -> Created:
        request = {"restApiId": props["RestApiId"]}
        for cfn, api in (("StageName", "stageName"), ("Description", "description")):
            if cfn in props:
                request[api] = props[cfn]
        found = ctx.client("apigateway").create_deployment(**request)
        return Created(found["id"], found["id"], {"DeploymentId": found["id"]}, {"api": props["RestApiId"]})


STAGE_SETTINGS = "stage settings (throttling, caching, logging, tracing) are not applied by the sandbox"


class Stage(Kind):
    type = "AWS::ApiGateway::Stage"
    properties = frozenset({"RestApiId", "DeploymentId", "StageName", "Variables", "Description", "Tags"})
    noted = {
        key: STAGE_SETTINGS
        for key in (
            "MethodSettings",
            "TracingEnabled",
            "AccessLogSetting",
            "CacheClusterEnabled",
            "CacheClusterSize",
        )
    }

    def create(self, logical_id, props, ctx) -> Created:
        request = {
            "restApiId": props["RestApiId"],
            "stageName": props["StageName"],
            "deploymentId": props["DeploymentId"],
        }
        if props.get("Variables"):
            request["variables"] = {k: str(v) for k, v in props["Variables"].items()}
        if "Description" in props:
            request["description"] = props["Description"]
        if props.get("Tags"):
            request["tags"] = tags_dict(props["Tags"])
        ctx.client("apigateway").create_stage(**request)
        return Created(props["StageName"], props["StageName"], {}, {"api": props["RestApiId"]})

    updatable = frozenset({"DeploymentId", "Variables", "Description"})

    def update(self, logical_id, created, props, ctx) -> Created:
        """The stage moves to the new deployment (a SAM API's deployment is new whenever its paths change)."""
        operations = [{"op": "replace", "path": "/deploymentId", "value": props["DeploymentId"]}]
        operations += [
            {"op": "replace", "path": f"/variables/{k}", "value": str(v)}
            for k, v in (props.get("Variables") or {}).items()
        ]
        ctx.client("apigateway").update_stage(
            restApiId=props["RestApiId"], stageName=props["StageName"], patchOperations=operations
        )
        return created


_CORS_KEYS = {
    "allowOrigins": "AllowOrigins",
    "allowHeaders": "AllowHeaders",
    "allowMethods": "AllowMethods",
    "exposeHeaders": "ExposeHeaders",
    "maxAge": "MaxAge",
    "allowCredentials": "AllowCredentials",
}


class HttpApi(Kind):
    type = "AWS::ApiGatewayV2::Api"
    properties = frozenset(
        {
            "Body",
            "Name",
            "ProtocolType",
            "CorsConfiguration",
            "Description",
            "Tags",
            "DisableExecuteApiEndpoint",
            "FailOnWarnings",
            "Target",
            "RouteKey",
            "Version",
        }
    )

    def check(self, logical_id, props, plan) -> list[str]:
        problems = []
        if props.get("ProtocolType", "HTTP") != "HTTP":
            problems.append(
                f"ProtocolType {props['ProtocolType']}: the sandbox serves HTTP APIs, not WebSocket APIs"
            )
        for note in document_notes(props.get("Body")):
            plan.note(logical_id, note)
        return problems + document_problems(props.get("Body"), "http")

    def create(self, logical_id, props, ctx) -> Created:
        v2 = ctx.client("apigatewayv2")
        body = props.get("Body") or {}
        request = {
            "Name": props.get("Name") or (body.get("info") or {}).get("title") or logical_id,
            "ProtocolType": "HTTP",
        }
        cors = props.get("CorsConfiguration") or {
            _CORS_KEYS[k]: v
            for k, v in (body.get("x-amazon-apigateway-cors") or {}).items()
            if k in _CORS_KEYS
        }
        if cors:
            if "MaxAge" in cors:
                cors["MaxAge"] = int(cors["MaxAge"])
            request["CorsConfiguration"] = cors
        for key in ("Description", "Target", "RouteKey", "Version"):
            if key in props:
                request[key] = props[key]
        if props.get("Tags"):
            request["Tags"] = tags_dict(props["Tags"])
        found = v2.create_api(**request)
        api_id = found["ApiId"]
        for path, method, operation in sorted(_operations(body)):
            integration = operation["x-amazon-apigateway-integration"]
            extra = (
                {"TimeoutInMillis": int(integration["timeoutInMillis"])}
                if "timeoutInMillis" in integration
                else {}
            )
            created = v2.create_integration(
                ApiId=api_id,
                IntegrationType="AWS_PROXY",
                IntegrationMethod="POST",
                IntegrationUri=integration["uri"],
                PayloadFormatVersion=str(integration.get("payloadFormatVersion", "2.0")),
                **extra,
            )
            v2.create_route(
                ApiId=api_id,
                RouteKey=_route_key(method, path),
                Target=f"integrations/{created['IntegrationId']}",
            )
        return Created(api_id, api_id, {"ApiId": api_id, "ApiEndpoint": found.get("ApiEndpoint", "")})

    def delete(self, created, ctx) -> None:
        ctx.client("apigatewayv2").delete_api(ApiId=created.physical_id)


class HttpStage(Kind):
    type = "AWS::ApiGatewayV2::Stage"
    properties = frozenset(
        {"ApiId", "StageName", "AutoDeploy", "StageVariables", "Description", "Tags", "DeploymentId"}
    )
    noted = {key: STAGE_SETTINGS for key in ("DefaultRouteSettings", "RouteSettings", "AccessLogSettings")}

    def create(self, logical_id, props, ctx) -> Created:
        request = {
            "ApiId": props["ApiId"],
            "StageName": props["StageName"],
            "AutoDeploy": str(props.get("AutoDeploy", False)).lower() == "true",
        }
        if props.get("StageVariables"):
            request["StageVariables"] = {k: str(v) for k, v in props["StageVariables"].items()}
        for key in ("Description",):
            if key in props:
                request[key] = props[key]
        if props.get("Tags"):
            request["Tags"] = tags_dict(props["Tags"])
        ctx.client("apigatewayv2").create_stage(**request)
        return Created(props["StageName"], props["StageName"], {}, {"api": props["ApiId"]})


class HttpIntegration(Kind):
    type = "AWS::ApiGatewayV2::Integration"
    properties = frozenset(
        {
            "ApiId",
            "IntegrationType",
            "IntegrationUri",
            "IntegrationMethod",
            "PayloadFormatVersion",
            "TimeoutInMillis",
            "Description",
        }
    )

    def check(self, logical_id, props, plan) -> list[str]:
        if str(props.get("IntegrationType", "")).upper() != "AWS_PROXY":
            return [
                f"IntegrationType {props.get('IntegrationType')}: the sandbox runs Lambda proxy (AWS_PROXY) "
                f"integrations only"
            ]
        return []

    def create(self, logical_id, props, ctx) -> Created:
        request = {
            "ApiId": props["ApiId"],
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": props["IntegrationUri"],
            "IntegrationMethod": props.get("IntegrationMethod", "POST"),
            "PayloadFormatVersion": str(props.get("PayloadFormatVersion", "2.0")),
        }
        if "TimeoutInMillis" in props:
            request["TimeoutInMillis"] = int(props["TimeoutInMillis"])
        if "Description" in props:
            request["Description"] = props["Description"]
        found = ctx.client("apigatewayv2").create_integration(**request)
        return Created(
            found["IntegrationId"], found["IntegrationId"], {"IntegrationId": found["IntegrationId"]}
        )


class HttpRoute(Kind):
    type = "AWS::ApiGatewayV2::Route"
    properties = frozenset({"ApiId", "RouteKey", "Target", "AuthorizationType", "OperationName"})

    def check(self, logical_id, props, plan) -> list[str]:
        if str(props.get("AuthorizationType", "NONE")).upper() != "NONE":
            return [f"AuthorizationType {props['AuthorizationType']}: authorizers are not run by the sandbox"]
        return []

    def create(self, logical_id, props, ctx) -> Created:
        request = {"ApiId": props["ApiId"], "RouteKey": props["RouteKey"]}
        for key in ("Target", "OperationName"):
            if key in props:
                request[key] = props[key]
        found = ctx.client("apigatewayv2").create_route(**request)
        return Created(found["RouteId"], found["RouteId"], {"RouteId": found["RouteId"]})


class HttpDeployment(Kind):
    """moto keeps no HTTP API deployments, and the sandbox's stages serve an HTTP API's current routes, so a
    deployment has nothing to freeze: it is recorded, with an id, and nothing else."""

    type = "AWS::ApiGatewayV2::Deployment"
    properties = frozenset({"ApiId", "Description", "StageName"})

    def create(self, logical_id, props, ctx) -> Created:
        name = generated_name(ctx.stack_name, logical_id, 20, lowercase=True)
        return Created(name, name, {"DeploymentId": name})


KINDS = (
    RestApi(),
    Resource(),
    Method(),
    Deployment(),
    Stage(),
    HttpApi(),
    HttpStage(),
    HttpIntegration(),
    HttpRoute(),
    HttpDeployment(),
)
