"""API Gateway in front of a function, end to end: APIs made with the real AWS CLI and boto3 against a
running sandbox, requests sent over HTTP to both execute-api URL forms, events checked against
Powertools' models, and API Gateway's answers (status, headers, bodies, errors, timeouts, CORS)."""

from __future__ import annotations

import base64
import http.client
import json
import threading

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
)

from helpers.api_gateway import (
    LAMBDA_URI,
    add_resource,
    api_function_zip,
    call,
    create_functions,
    http_api,
    records_for,
    rest_api,
)
from helpers.aws_cli import aws_cli
from helpers.paths import PROJECT_ROOT
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, settle, wait_for_record

REGION = "us-east-1"


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def functions(sb):
    return create_functions(sb)


# -- making APIs and calling them ------------------------------------------------------------------


def aws(sb, *args) -> dict:
    """The real AWS CLI against the sandbox; its JSON answer."""
    result = aws_cli(sb)(*args, "--output", "json", cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


# -- HTTP APIs -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_quick_created_http_api_serves_every_path_through_its_default_route(sb, functions):
    created = aws(
        sb,
        "apigatewayv2",
        "create-api",
        "--name",
        "quick",
        "--protocol-type",
        "HTTP",
        "--target",
        functions["api-test"],
    )
    api = created["ApiId"]
    assert created["ApiEndpoint"] == f"http://{api}.execute-api.localhost:{sb.endpoint.port}"
    assert [r["RouteKey"] for r in aws(sb, "apigatewayv2", "get-routes", "--api-id", api)["Items"]] == [
        "$default"
    ]
    stages = aws(sb, "apigatewayv2", "get-stages", "--api-id", api)["Items"]
    assert [(s["StageName"], s["AutoDeploy"]) for s in stages] == [("$default", True)]
    answer = call(sb, api, "/any/path/at/all?x=1", host_form=True)
    assert answer.status == 200
    event = APIGatewayProxyEventV2Model.model_validate(answer.json())
    assert (event.routeKey, event.rawPath, event.requestContext.stage) == (
        "$default",
        "/any/path/at/all",
        "$default",
    )
    assert event.requestContext.domainName == f"{api}.execute-api.localhost"


def test_route_with_path_parameters_gets_them_decoded_with_the_query_and_cookies(sb, functions):
    api = http_api(sb, functions["api-test"], routes=("GET /items/{id}",))
    answer = call(
        sb, api, "/items/a%20b?tag=x&tag=y&empty=", headers={"Cookie": "one=1; two=2", "X-Custom": "v"}
    )
    assert answer.status == 200
    raw = answer.json()
    event = APIGatewayProxyEventV2Model.model_validate(raw)
    assert event.routeKey == "GET /items/{id}" and event.pathParameters == {"id": "a b"}
    assert event.rawPath == "/items/a b" and event.rawQueryString == "tag=x&tag=y&empty="
    assert event.queryStringParameters == {"tag": "x,y", "empty": ""}
    assert event.cookies == ["one=1", "two=2"] and "cookie" not in event.headers
    assert event.headers["x-custom"] == "v" and event.stageVariables == {"color": "blue"}
    assert "body" not in raw and raw["isBase64Encoded"] is False  # absent parts are left out


def test_most_specific_route_wins_and_a_path_no_route_takes_is_404(sb, functions):
    api = http_api(
        sb, functions["api-test"], routes=("GET /items/{id}", "GET /items/special", "ANY /items/{proxy+}")
    )
    assert call(sb, api, "/items/special").json()["routeKey"] == "GET /items/special"
    assert call(sb, api, "/items/7").json()["routeKey"] == "GET /items/{id}"
    assert call(sb, api, "/items/7", method="DELETE").json()["routeKey"] == "ANY /items/{proxy+}"
    missing = call(sb, api, "/elsewhere")
    assert (missing.status, missing.body) == (404, b'{"message":"Not Found"}')


def test_named_stage_is_the_first_segment_and_an_unknown_stage_is_404(sb, functions):
    api = http_api(sb, functions["api-test"], routes=("GET /hello",), stage="dev")
    event = call(sb, api, "/dev/hello").json()
    assert (event["rawPath"], event["requestContext"]["stage"]) == ("/dev/hello", "dev")
    assert call(sb, api, "/prod/hello").status == 404
    assert call(sb, api, "/hello").status == 404


def test_both_url_forms_reach_the_same_api(sb, functions):
    api = http_api(sb, functions["api-test"], routes=("GET /form",))
    by_path, by_host = call(sb, api, "/form"), call(sb, api, "/form", host_form=True)
    assert by_path.status == by_host.status == 200
    assert by_path.json()["requestContext"]["apiId"] == by_host.json()["requestContext"]["apiId"] == api


def test_http_api_asking_for_payload_1_0_gets_the_1_0_event(sb, functions):
    api = http_api(sb, functions["api-test"], routes=("GET /v1/{name}",), payload="1.0")
    raw = call(sb, api, "/v1/x?q=1").json()
    event = APIGatewayProxyEventModel.model_validate(raw)
    assert (
        raw["version"] == "1.0" and event.resource == "/v1/{name}" and event.pathParameters == {"name": "x"}
    )
    assert event.multiValueQueryStringParameters == {"q": ["1"]}


def test_payload_2_infers_a_response_from_output_without_status_code(sb, functions):
    api = http_api(sb, functions["api-test"])
    inferred = call(sb, api, "/inferred")
    assert (inferred.status, inferred.header("Content-Type"), inferred.json()) == (
        200,
        "application/json",
        {"hello": "world"},
    )
    text = call(sb, api, "/text")
    assert (text.status, text.body) == (200, b"just a string")


def test_http_api_response_has_its_status_headers_and_one_set_cookie_per_cookie(sb, functions):
    answer = call(sb, http_api(sb, functions["api-test"]), "/headers")
    assert (answer.status, answer.header("X-Single"), answer.body) == (201, "one", b"headers")
    assert answer.all("Set-Cookie") == ["c1=v1; Path=/", "c2=v2"]
    assert answer.header("apigw-requestid")


def test_binary_bodies_are_base64_in_the_event_and_decoded_in_the_answer_on_http_apis(sb, functions):
    api = http_api(sb, functions["api-test"])
    image = b"\xff\xd8\xff\xe0binary\x00"
    event = call(sb, api, "/upload", method="PUT", body=image, headers={"Content-Type": "image/jpeg"}).json()
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == image
    text = call(
        sb, api, "/upload", method="POST", body=b'{"a": 1}', headers={"Content-Type": "application/json"}
    )
    assert text.json()["body"] == '{"a": 1}' and text.json()["isBase64Encoded"] is False
    binary = call(sb, api, "/binary")
    assert (binary.header("Content-Type"), binary.body) == ("image/png", b"\x89PNG\r\n\x1a\n\x00\xff")


# -- REST APIs -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_rest_api_made_with_the_cli_serves_its_proxy_resource_after_create_deployment(sb, functions):
    api = aws(sb, "apigateway", "create-rest-api", "--name", "cli-rest")["id"]
    root = aws(sb, "apigateway", "get-resources", "--rest-api-id", api)["items"][0]["id"]
    proxy = aws(
        sb,
        "apigateway",
        "create-resource",
        "--rest-api-id",
        api,
        "--parent-id",
        root,
        "--path-part",
        "{proxy+}",
    )["id"]
    aws(
        sb,
        "apigateway",
        "put-method",
        "--rest-api-id",
        api,
        "--resource-id",
        proxy,
        "--http-method",
        "ANY",
        "--authorization-type",
        "NONE",
    )
    aws(
        sb,
        "apigateway",
        "put-integration",
        "--rest-api-id",
        api,
        "--resource-id",
        proxy,
        "--http-method",
        "ANY",
        "--type",
        "AWS_PROXY",
        "--integration-http-method",
        "POST",
        "--uri",
        LAMBDA_URI.format(functions["api-test"]),
    )
    before = call(sb, api, "/prod/a/b")
    assert (before.status, before.body) == (403, b'{"message":"Forbidden"}')  # no stage yet
    aws(sb, "apigateway", "create-deployment", "--rest-api-id", api, "--stage-name", "prod")
    answer = call(sb, api, "/prod/a%20b/c?x=1&x=2", host_form=True)
    assert answer.status == 200 and answer.header("x-amzn-RequestId")
    raw = answer.json()
    event = APIGatewayProxyEventModel.model_validate(raw)
    assert (event.resource, event.path, event.pathParameters) == ("/{proxy+}", "/a%20b/c", {"proxy": "a b/c"})
    assert event.requestContext.path == "/prod/a%20b/c" and event.requestContext.stage == "prod"
    assert event.queryStringParameters == {"x": "2"} and event.multiValueQueryStringParameters == {
        "x": ["1", "2"]
    }
    assert raw["body"] is None and raw["stageVariables"] is None  # absent parts are null


def test_rest_api_serves_the_deployment_its_stage_points_to(sb, functions):
    api = rest_api(sb, functions["api-test"])
    add_resource(sb, api, "/added", functions["api-test"], method="GET")
    assert call(sb, api, "/prod/added").json()["resource"] == "/{proxy+}"  # not deployed yet
    sb.client("apigateway").create_deployment(restApiId=api, stageName="prod")
    assert call(sb, api, "/prod/added").json()["resource"] == "/added"


def test_rest_api_unknown_resource_or_method_is_403_missing_authentication_token(sb, functions):
    api = rest_api(sb, functions["api-test"], paths=("/items",), method="GET")
    for method, path in (("GET", "/prod/other"), ("POST", "/prod/items")):
        answer = call(sb, api, path, method=method)
        assert (answer.status, answer.body) == (403, b'{"message":"Missing Authentication Token"}')
        assert answer.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    assert call(sb, api, "/prod/items").status == 200


def test_rest_api_response_merges_headers_and_multi_value_headers(sb, functions):
    answer = call(sb, rest_api(sb, functions["api-test"]), "/prod/headers")
    assert answer.status == 201 and answer.all("X-Multi") == ["a", "b"] and answer.header("X-Single") == "one"


def test_rest_api_binary_needs_binary_media_types(sb, functions):
    plain = rest_api(sb, functions["api-test"])
    image = b"\xff\xd8\xffjpeg\x00"
    event = call(
        sb, plain, "/prod/up", method="PUT", body=b"text body", headers={"Content-Type": "image/jpeg"}
    ).json()
    assert (event["body"], event["isBase64Encoded"]) == ("text body", False)
    as_text = call(sb, plain, "/prod/binary", headers={"Accept": "image/png"})
    assert (
        base64.b64decode(as_text.body) == b"\x89PNG\r\n\x1a\n\x00\xff"
    )  # left base64: no binary media types
    binary = rest_api(sb, functions["api-test"], binary=("image/*",))
    event = call(
        sb, binary, "/prod/up", method="PUT", body=image, headers={"Content-Type": "image/jpeg"}
    ).json()
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == image
    decoded = call(sb, binary, "/prod/binary", headers={"Accept": "image/png"})
    assert decoded.body == b"\x89PNG\r\n\x1a\n\x00\xff"


# -- errors, timeouts, throttling ------------------------------------------------------------------
def test_function_error_is_502_on_rest_and_500_on_http_and_is_not_retried(sb, functions):
    rest, http_ = rest_api(sb, functions["api-test"]), http_api(sb, functions["api-test"])
    answer = call(sb, rest, "/prod/raise")
    assert (answer.status, answer.body) == (502, b'{"message": "Internal server error"}')
    assert answer.header("x-amzn-ErrorType") == "InternalServerErrorException"
    answer = call(sb, http_, "/raise")
    assert (answer.status, answer.body) == (500, b'{"message":"Internal Server Error"}')
    settle(sb)
    failed = [
        r
        for r in records_for(sb, rest) + records_for(sb, http_)
        if r.subject.get("path", "").endswith("raise")
    ]
    assert [(r.status, r.attempt, r.invocation_type) for r in failed] == [("error", 1, "RequestResponse")] * 2


@pytest.mark.parametrize("action", ["bad-status", "object-body", "extra-key"])
def test_malformed_proxy_response_is_502_on_rest(sb, functions, action):
    answer = call(sb, rest_api(sb, functions["api-test"]), f"/prod/{action}")
    assert (answer.status, answer.body) == (502, b'{"message": "Internal server error"}')


@pytest.mark.parametrize("action", ["bad-status", "object-body"])
def test_malformed_response_is_500_on_http_apis(sb, functions, action):
    answer = call(sb, http_api(sb, functions["api-test"]), f"/{action}")
    assert (answer.status, answer.body) == (500, b'{"message":"Internal Server Error"}')


@pytest.mark.slow
def test_integration_timeout_answers_504_on_rest_and_503_on_http_while_the_function_runs_on(sb, functions):
    rest = rest_api(sb, functions["api-test"], timeout_ms=500)
    http_ = http_api(sb, functions["api-test"], timeout_ms=500)
    answer = call(sb, rest, "/prod/sleep?seconds=2")
    assert (answer.status, answer.body) == (504, b'{"message": "Endpoint request timed out"}')
    answer = call(sb, http_, "/sleep?seconds=2")
    assert (answer.status, answer.body) == (503, b'{"message":"Service Unavailable"}')
    # answered at the integration timeout, while the function still runs (not at its end)
    assert [r.final for r in records_for(sb, http_)] == [False]
    finished = wait_for_record(
        sb, lambda r: r.subject.get("api") == http_ and r.final, what="the slow invocation"
    )
    assert finished.status == "success"  # the function went on and finished


@pytest.mark.slow
def test_function_timeout_shorter_than_the_integration_is_a_function_error(sb, functions):
    answer = call(sb, rest_api(sb, functions["api-short"]), "/prod/sleep?seconds=3")
    assert (answer.status, answer.body) == (502, b'{"message": "Internal server error"}')
    api = http_api(sb, functions["api-short"])
    assert call(sb, api, "/sleep?seconds=3").status == 500
    assert [r.status for r in records_for(sb, api)] == ["timeout"]


@pytest.mark.slow
def test_throttled_function_answers_500(sb, functions):
    lam = sb.client("lambda")
    lam.create_function(
        FunctionName="api-one",
        Runtime="python3.12",
        Role=sb.function.role_arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": api_function_zip()},
        Timeout=10,
    )
    lam.put_function_concurrency(FunctionName="api-one", ReservedConcurrentExecutions=1)
    api = http_api(sb, f"arn:aws:lambda:{REGION}:123456789012:function:api-one")
    slow = threading.Thread(target=call, args=(sb, api, "/sleep?seconds=2"))
    slow.start()
    wait_for_record(
        sb, lambda r: r.subject.get("api") == api and r.status == "running", what="the slow request"
    )
    answer = call(sb, api, "/fast")
    slow.join()
    assert (answer.status, answer.body) == (500, b'{"message":"Internal Server Error"}')
    assert sorted(r.status for r in records_for(sb, api)) == ["success", "throttled"]


def test_integration_naming_an_unknown_function_is_500(sb, functions):
    api = http_api(sb, f"arn:aws:lambda:{REGION}:123456789012:function:no-such-function")
    assert call(sb, api, "/x").status == 500
    assert call(sb, "nosuchapi", "/x").status == 404


# -- what the sandbox records ----------------------------------------------------------------------
def test_invocation_is_recorded_with_its_route_and_logged_to_cloudwatch(sb, functions):
    api = http_api(sb, functions["api-test"], routes=("GET /items/{id}",))
    assert call(sb, api, "/items/42").status == 200
    record = wait_for_record(
        sb, lambda r: r.subject.get("api") == api and r.final, what="the API's invocation"
    )
    assert record.source == "aws:apigateway" and record.summary == f"GET /items/{{id}} (api {api})"
    assert record.subject == {
        "api": api,
        "route": "GET /items/{id}",
        "method": "GET",
        "path": "/items/42",
        "stage": "$default",
    }
    assert record.trigger == "apigateway" and record.billed_duration_ms and record.cost_usd is not None
    assert record.how_detected.startswith(f"API Gateway received GET /items/42 for API {api}")
    assert record.how_responded.endswith("answered HTTP 200")
    logs = sb.client("logs")
    found = eventually(
        lambda: logs.filter_log_events(
            logGroupName="/aws/lambda/api-test", filterPattern=f'"{record.request_id}"'
        )["events"],
        what="the invocation's REPORT line in CloudWatch Logs",
        until=lambda events: any(e["message"].startswith("REPORT") for e in events),
    )
    assert found


def test_api_routes_are_listed_among_the_triggers(sb, functions):
    http_ = http_api(sb, functions["api-test"], routes=("GET /listed/{id}",), stage="dev")
    rest = rest_api(sb, functions["api-short"], paths=("/listed",), method="GET")
    found = [
        t for t in sb.triggers() if t["source"].endswith(f"({http_})") or t["source"].endswith(f"({rest})")
    ]
    assert sorted((t["kind"], t["function"], t["detail"], t["url"]) for t in found) == [
        (
            "HTTP API",
            "api-test",
            "GET /listed/{id} (stage dev)",
            f"http://{http_}.execute-api.localhost:{sb.endpoint.port}/dev",
        ),
        (
            "REST API",
            "api-short",
            "GET /listed (stage prod)",
            f"http://{rest}.execute-api.localhost:{sb.endpoint.port}/prod",
        ),
    ]


# -- CORS and the endpoint's access rules ----------------------------------------------------------
CORS = {
    "AllowOrigins": ["https://app.example"],
    "AllowMethods": ["GET", "PUT"],
    "AllowHeaders": ["content-type"],
    "ExposeHeaders": ["x-single"],
    "MaxAge": 300,
}


def test_http_api_answers_preflights_from_its_cors_configuration(sb, functions):
    api = http_api(sb, functions["api-test"], routes=("GET /items",), cors=CORS)
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "PUT"}
    answer = call(sb, api, "/items", method="OPTIONS", headers=preflight, host_form=True)
    assert answer.status == 204 and answer.header("Access-Control-Allow-Origin") == "https://app.example"
    assert (answer.header("Access-Control-Allow-Methods"), answer.header("Access-Control-Max-Age")) == (
        "GET,PUT",
        "300",
    )
    other = call(
        sb, api, "/items", method="OPTIONS", headers={**preflight, "Origin": "https://other.example"}
    )
    assert other.status == 204 and other.header("Access-Control-Allow-Origin") is None
    assert records_for(sb, api) == []  # API Gateway answered; the function never ran


def test_http_api_cors_replaces_the_functions_own_cors_headers(sb, functions):
    api = http_api(sb, functions["api-test"], cors=CORS)
    answer = call(sb, api, "/cors", headers={"Origin": "https://app.example"})
    assert answer.status == 200 and answer.all("Access-Control-Allow-Origin") == ["https://app.example"]
    assert answer.header("Access-Control-Expose-Headers") == "x-single"
    assert (
        call(sb, api, "/cors", headers={"Origin": "https://other.example"}).header(
            "Access-Control-Allow-Origin"
        )
        is None
    )


def test_any_web_page_may_call_an_api_and_gets_the_functions_cors_headers_on_rest(sb, functions):
    api = rest_api(sb, functions["api-test"])
    answer = call(sb, api, "/prod/cors", headers={"Origin": "http://evil.example"})
    assert (
        answer.status == 200
        and answer.header("Access-Control-Allow-Origin") == "https://from-function.example"
    )
    preflight = call(
        sb,
        api,
        "/prod/cors",
        method="OPTIONS",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "PUT"},
    )
    assert preflight.status == 200  # no CORS configuration: the preflight is a request like any other


def test_api_without_cors_configuration_sends_preflights_to_its_routes(sb, functions):
    api = http_api(sb, functions["api-test"], routes=("GET /only",))
    answer = call(
        sb,
        api,
        "/only",
        method="OPTIONS",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert (answer.status, answer.body) == (404, b'{"message":"Not Found"}')


def test_execute_api_urls_still_refuse_a_foreign_host_name(sb, functions):
    api = http_api(sb, functions["api-test"])
    answer = call(sb, api, "/x", headers={"Host": "attacker.example"})
    assert answer.status == 403 and b"DNS-rebinding" in answer.body
    assert records_for(sb, api) == []


def test_the_rest_of_the_endpoint_still_refuses_foreign_pages(sb):
    connection = http.client.HTTPConnection("127.0.0.1", sb.endpoint.port, timeout=30)
    connection.request("GET", f"/{sb.config.source_bucket}", headers={"Origin": "http://evil.example"})
    response = connection.getresponse()
    assert response.status == 403 and b"AccessDenied" in response.read()
    connection.close()
