"""API Gateway in front of a test function: functions made from tests/handlers/api, HTTP and REST APIs made
with boto3, and requests sent over HTTP to both execute-api URL forms."""

from __future__ import annotations

import http.client
import io
import json
import zipfile

from helpers.paths import HANDLERS

LAMBDA_URI = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{}/invocations"


def api_function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(HANDLERS / "api" / "lambda_function.py", "lambda_function.py")
    return buffer.getvalue()


def create_functions(sb) -> dict:
    """ARNs of the test function: "api-test" (timeout 10 s) and "api-short" (timeout 1 s)."""
    lam = sb.client("lambda")
    arns = {}
    for name, timeout in (("api-test", 10), ("api-short", 1)):
        arns[name] = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=sb.function.role_arn,
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": api_function_zip()},
            Timeout=timeout,
        )["FunctionArn"]
    return arns


def http_api(sb, function_arn, routes=("ANY /{proxy+}",), stage="$default", **options) -> str:
    """An HTTP API whose routes all target the function; options: cors, timeout_ms, payload."""
    v2 = sb.client("apigatewayv2")
    api = v2.create_api(
        Name="test-http",
        ProtocolType="HTTP",
        **({"CorsConfiguration": options["cors"]} if options.get("cors") else {}),
    )["ApiId"]
    integration = v2.create_integration(
        ApiId=api,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function_arn,
        PayloadFormatVersion=options.get("payload", "2.0"),
        TimeoutInMillis=options.get("timeout_ms", 30000),
    )
    for key in routes:
        v2.create_route(ApiId=api, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}")
    v2.create_stage(ApiId=api, StageName=stage, AutoDeploy=True, StageVariables={"color": "blue"})
    return api


def rest_api(
    sb, function_arn, paths=("/{proxy+}",), stage="prod", method="ANY", deploy=True, **options
) -> str:
    """A REST API with AWS_PROXY methods on these resource paths; options: binary, timeout_ms."""
    apigw = sb.client("apigateway")
    api = apigw.create_rest_api(name="test-rest", binaryMediaTypes=list(options.get("binary", ())))["id"]
    for path in paths:
        add_resource(sb, api, path, function_arn, method, options.get("timeout_ms", 29000))
    if deploy:
        apigw.create_deployment(restApiId=api, stageName=stage, variables={"color": "green"})
    return api


def add_resource(sb, api, path, function_arn, method="ANY", timeout_ms=29000):
    apigw = sb.client("apigateway")
    resources = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api)["items"]}
    parent = "/"
    for part in [p for p in path.split("/") if p]:
        here = parent.rstrip("/") + "/" + part
        if here not in resources:
            resources[here] = apigw.create_resource(restApiId=api, parentId=resources[parent], pathPart=part)[
                "id"
            ]
        parent = here
    apigw.put_method(restApiId=api, resourceId=resources[path], httpMethod=method, authorizationType="NONE")
    apigw.put_integration(
        restApiId=api,
        resourceId=resources[path],
        httpMethod=method,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=LAMBDA_URI.format(function_arn),
        timeoutInMillis=timeout_ms,
    )


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)


def call(sb, api, path, method="GET", body=None, headers=None, host_form=False) -> Answer:
    """A request to ``http://<api>.execute-api.localhost:<port><path>`` (host_form; Python does not resolve
    *.localhost, so it connects to 127.0.0.1 with that Host) or ``/_aws/execute-api/<api><path>``."""
    port = sb.endpoint.port
    headers = dict(headers or {})
    if host_form:
        headers["Host"] = f"{api}.execute-api.localhost:{port}"
        target = path
    else:
        target = f"/_aws/execute-api/{api}{path}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, target, body=body, headers=headers)
    response = connection.getresponse()
    answer = Answer(response.status, response.getheaders(), response.read())
    connection.close()
    return answer


def records_for(sb, api):
    return [r for r in sb.invocations() if r.subject.get("api") == api]
