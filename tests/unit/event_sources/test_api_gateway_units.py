"""API Gateway's rules as pure units: routing, the events of both payload formats (checked against
Powertools' models), the responses built from a function's output, CORS, and the access guard's
treatment of public execute-api URLs. The same behaviours end to end are in integration/event_sources/."""

from __future__ import annotations

import base64

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
)
from werkzeug.test import Client, EnvironBuilder

from sandbox.endpoint.access import AccessPolicy, EndpointGuard
from sandbox.event_sources.api_gateway import describe, gateway
from sandbox.event_sources.api_gateway.apis import Integration, Route, select_http_route, select_rest_method
from sandbox.event_sources.api_gateway.events import ApiRequest, http_api_event, proxy_event
from sandbox.event_sources.api_gateway.responses import (
    HttpResponse,
    MalformedResponse,
    cors_preflight,
    http_api_response,
    proxy_response,
    with_cors,
)

PROXY = Integration("AWS_PROXY", "arn:aws:lambda:us-east-1:123456789012:function:f", "2.0", 30000)


def http_routes(*keys):
    return [Route.of(k, *(k.split(" ", 1) if k != "$default" else ("", "")), PROXY) for k in keys]


def request(path="/items/a%2Fb", method="GET", body=b"", headers=(), query="") -> ApiRequest:
    return ApiRequest(
        method=method,
        path=path,
        stage_prefix="",
        query_string=query,
        headers=[("host", "abc.execute-api.localhost:4566"), ("user-agent", "curl/8"), *headers],
        body=body,
        source_ip="127.0.0.1",
        domain_name="abc.execute-api.localhost",
        port="4566",
    )


# -- routing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, path, expected",
    [
        ("GET", "/items/special", "GET /items/special"),  # a literal segment beats {id}
        ("GET", "/items/7", "GET /items/{id}"),  # {id} beats {proxy+}
        ("POST", "/items/7", "ANY /items/{proxy+}"),  # no POST route: ANY with a greedy path
        ("GET", "/items/7/parts", "ANY /items/{proxy+}"),
        ("GET", "/other", "$default"),
    ],
)
def test_http_api_picks_the_most_specific_route_then_default(method, path, expected):
    routes = http_routes("GET /items/{id}", "GET /items/special", "ANY /items/{proxy+}", "$default")
    route, _ = select_http_route(routes, method, [s for s in path.split("/") if s])
    assert route.key == expected


def test_exact_method_beats_any_on_the_same_path():
    route, parameters = select_http_route(http_routes("ANY /x/{id}", "GET /x/{id}"), "GET", ["x", "a%20b"])
    assert route.key == "GET /x/{id}" and parameters == {"id": "a b"}


def test_http_api_without_a_matching_route_or_default_has_none():
    assert select_http_route(http_routes("GET /items"), "GET", ["nope"]) is None


def test_rest_api_chooses_the_resource_before_the_method():
    routes = [
        Route.of("GET /items/{id}", "GET", "/items/{id}", PROXY),
        Route.of("ANY /{proxy+}", "ANY", "/{proxy+}", PROXY),
    ]
    assert select_rest_method(routes, "POST", ["items", "1"]) is None  # 403 on AWS, though {proxy+} exists
    route, parameters = select_rest_method(routes, "POST", ["a", "b%20c"])
    assert route.path == "/{proxy+}" and parameters == {"proxy": "a/b c"}


def test_integration_names_its_function_with_stage_variables_filled_in():
    rest = Integration(
        "AWS_PROXY",
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}/invocations",
        "1.0",
        29000,
    )
    assert rest.function_name({"fn": "blue"}) == "blue"
    assert Integration("HTTP_PROXY", "https://example.com", "1.0", 29000).function_name({}) is None


# -- events ----------------------------------------------------------------------------------------
def test_payload_2_event_passes_powertools_strict_model_and_omits_absent_parts():
    event = http_api_event(
        request(headers=[("cookie", "a=1; b=2"), ("x-two", "1"), ("x-two", "2")], query="q=1&q=2"),
        "abc",
        "GET /items/{id}",
        "$default",
        {"id": "a/b"},
        {},
        "rid=",
    )
    model = APIGatewayProxyEventV2Model.model_validate(event)
    assert model.rawPath == "/items/a/b" and model.cookies == ["a=1", "b=2"]
    assert model.headers["x-two"] == "1,2" and model.queryStringParameters == {"q": "1,2"}
    assert {"body", "stageVariables"}.isdisjoint(event) and event["isBase64Encoded"] is False


def test_payload_2_base64_encodes_bodies_that_are_not_text():
    image = http_api_event(
        request(method="PUT", body=b"\xff\x00", headers=[("content-type", "image/png")]),
        "abc",
        "$default",
        "$default",
        {},
        {},
        "rid=",
    )
    form = http_api_event(
        request(method="POST", body=b"a=1", headers=[("content-type", "application/x-www-form-urlencoded")]),
        "abc",
        "$default",
        "$default",
        {},
        {},
        "rid=",
    )
    text = http_api_event(
        request(method="POST", body=b"{}", headers=[("content-type", "application/json")]),
        "abc",
        "$default",
        "$default",
        {},
        {},
        "rid=",
    )
    assert image["isBase64Encoded"] and base64.b64decode(image["body"]) == b"\xff\x00"
    assert form["isBase64Encoded"] and (text["body"], text["isBase64Encoded"]) == ("{}", False)


def test_payload_1_event_passes_powertools_strict_model_with_nulls_for_absent_parts():
    route = Route.of("GET /items/{id}", "GET", "/items/{id}", PROXY, id="res1")
    event = proxy_event(request(), "abc", route, "prod", {"id": "a/b"}, {}, ("uuid", "ext="))
    model = APIGatewayProxyEventModel.model_validate(event)
    assert model.path == "/items/a%2Fb" and model.headers["User-Agent"] == "curl/8"  # REST keeps the encoding
    assert (event["body"], event["queryStringParameters"], event["stageVariables"]) == (None, None, None)
    assert model.requestContext.resourcePath == "/items/{id}" and "version" not in event


def _raw_request(raw_headers, query=""):
    """The gateway's request from a WSGI environ carrying the endpoint's raw headers."""
    environ = EnvironBuilder(path="/_aws/execute-api/abc/prod/items/1", query_string=query).get_environ()
    environ["sandbox.raw_headers"] = raw_headers
    return gateway._request(environ, "/prod/items/1", "abc.execute-api.localhost")


def test_payload_1_keeps_repeated_headers_and_names_as_the_client_sent_them():
    sent = [("Host", "abc.execute-api.localhost"), ("X-Multi", "one"), ("X-Multi", "two"), ("x-MiXed", "m")]
    route = Route.of("GET /items/{id}", "GET", "/items/{id}", PROXY, id="res1")
    rest = proxy_event(_raw_request(sent, "p=1&p=2"), "abc", route, "prod", {}, {}, ("uuid", "ext="))
    APIGatewayProxyEventModel.model_validate(rest)
    assert (rest["headers"]["X-Multi"], rest["multiValueHeaders"]["X-Multi"]) == ("two", ["one", "two"])
    assert rest["headers"]["x-MiXed"] == "m" and rest["headers"]["X-Forwarded-Proto"] == "http"
    assert (rest["queryStringParameters"], rest["multiValueQueryStringParameters"]) == (
        {"p": "2"},
        {"p": ["1", "2"]},
    )
    http1 = proxy_event(_raw_request(sent), "abc", route, "$default", {}, {}, ("uuid", "ext="), http_api=True)
    assert (http1["headers"]["x-multi"], http1["multiValueHeaders"]["x-multi"]) == ("two", ["one", "two"])
    assert http1["headers"]["x-mixed"] == "m" and "x-forwarded-for" in http1["headers"]
    v2 = http_api_event(_raw_request(sent), "abc", "$default", "$default", {}, {}, "ext=")
    assert v2["headers"]["x-multi"] == "one,two" and v2["headers"]["x-mixed"] == "m"


def test_without_raw_headers_rest_names_are_canonical_and_repeats_stay_joined():
    environ = EnvironBuilder(
        path="/_aws/execute-api/abc/prod/x", headers=[("x-multi", "one,two")]
    ).get_environ()
    rest = proxy_event(
        gateway._request(environ, "/prod/x", "abc.execute-api.localhost"),
        "abc",
        Route.of("ANY /x", "ANY", "/x", PROXY),
        "prod",
        {},
        {},
        ("uuid", "ext="),
    )
    assert rest["multiValueHeaders"]["X-Multi"] == ["one,two"]


def test_rest_api_base64_encodes_only_binary_media_types():
    route = Route.of("PUT /up", "PUT", "/up", PROXY)
    image = request(method="PUT", body=b"\xff\xd8", headers=[("content-type", "image/jpeg")])
    assert (
        proxy_event(image, "abc", route, "prod", {}, {}, ("u", "e"), ("image/*",))["isBase64Encoded"] is True
    )
    assert proxy_event(image, "abc", route, "prod", {}, {}, ("u", "e"), ())["isBase64Encoded"] is False


def test_describe_recognises_both_payload_versions():
    v2 = http_api_event(request(), "abc", "GET /items/{id}", "$default", {"id": "x"}, {}, "rid=")
    v1 = proxy_event(
        request(), "abc", Route.of("GET /items/{id}", "GET", "/items/{id}", PROXY), "prod", {}, {}, ("u", "e")
    )
    assert describe(v2)[:2] == ("aws:apigateway", "GET /items/{id} (api abc)")
    assert describe(v1)[2] == {
        "api": "abc",
        "route": "GET /items/{id}",
        "method": "GET",
        "path": "/items/a%2Fb",
        "stage": "prod",
    }
    assert describe({"Records": []}) is None and describe({"requestContext": {}}) is None


# -- responses -------------------------------------------------------------------------------------
def test_payload_2_infers_status_and_content_type_from_plain_json():
    assert (http_api_response({"a": 1}).status, http_api_response({"a": 1}).body) == (200, b'{"a": 1}')
    assert (
        http_api_response("hi").body == b"hi"
        and http_api_response("hi").header("content-type") == "application/json"
    )


def test_payload_2_each_cookie_is_its_own_set_cookie_and_base64_is_decoded():
    response = http_api_response(
        {
            "statusCode": 200,
            "cookies": ["a=1", "b=2"],
            "isBase64Encoded": True,
            "body": base64.b64encode(b"\x00\xff").decode(),
        }
    )
    assert [v for k, v in response.headers if k == "Set-Cookie"] == [
        "a=1",
        "b=2",
    ] and response.body == b"\x00\xff"
    assert response.header("content-type") == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "output",
    [
        {"statusCode": "x"},
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": 200, "headers": {"a": {"b": 1}}},
        {"statusCode": 200, "cookies": "a=1"},
        {"statusCode": 200, "isBase64Encoded": True, "body": "%%%"},
    ],
)
def test_payload_2_malformed_outputs_are_refused(output):
    with pytest.raises(MalformedResponse):
        http_api_response(output)


@pytest.mark.parametrize(
    "output",
    [
        "a string",
        {"body": "no status"},
        {"statusCode": 200, "cookies": []},
        {"statusCode": 200, "body": 1},
        {"statusCode": 200, "multiValueHeaders": {"a": "not a list"}},
    ],
)
def test_payload_1_malformed_outputs_are_refused(output):
    with pytest.raises(MalformedResponse):
        proxy_response(output, decode_binary=False)


def test_payload_1_merges_headers_into_multi_value_headers_and_defaults_to_json():
    response = proxy_response(
        {"statusCode": 200, "headers": {"A": "1", "B": True}, "multiValueHeaders": {"A": ["1", "2"]}},
        decode_binary=False,
    )
    assert response.headers == [("A", "1"), ("A", "2"), ("B", "true"), ("Content-Type", "application/json")]


def test_payload_1_decodes_base64_only_for_a_binary_accept():
    output = {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"\x01").decode()}
    assert proxy_response(output, decode_binary=True).body == b"\x01"
    assert proxy_response(output, decode_binary=False).body == output["body"].encode()


# -- CORS ------------------------------------------------------------------------------------------
CORS = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET"], "AllowCredentials": True}


def test_cors_preflight_allows_only_configured_origins():
    allowed = cors_preflight(CORS, "https://app.example")
    assert allowed.status == 204 and allowed.header("Access-Control-Allow-Origin") == "https://app.example"
    assert allowed.header("Access-Control-Allow-Credentials") == "true"
    assert cors_preflight(CORS, "https://evil.example").header("Access-Control-Allow-Origin") is None
    assert (
        cors_preflight({"AllowOrigins": ["*"]}, "https://x.example").header("Access-Control-Allow-Origin")
        == "*"
    )


def test_cors_configuration_replaces_the_functions_cors_headers():
    response = HttpResponse(200, [("Access-Control-Allow-Origin", "*"), ("X", "1")])
    assert with_cors(response, CORS, "https://evil.example").headers == [("X", "1")]


# -- the guard and public URLs ---------------------------------------------------------------------
def _guard(policy=None):
    def api(environ, start_response):
        start_response("200 OK", [("Access-Control-Allow-Origin", "https://from-the-api.example")])
        return [b"api"]

    return Client(
        EndpointGuard(
            api,
            policy or AccessPolicy(),
            lambda bucket: None,
            public=lambda environ: environ["PATH_INFO"].startswith("/_aws/execute-api/"),
        )
    )


def test_public_urls_leave_origin_and_cors_to_the_api():
    response = _guard().get(
        "/_aws/execute-api/abc/x", headers={"Host": "127.0.0.1:4566", "Origin": "http://evil.example"}
    )
    assert (
        response.status_code == 200
        and response.headers["Access-Control-Allow-Origin"] == "https://from-the-api.example"
    )


def test_public_urls_keep_the_host_rule_and_the_rest_keeps_every_rule():
    client = _guard()
    assert client.get("/_aws/execute-api/abc/x", headers={"Host": "rebind.example"}).status_code == 403
    assert (
        client.get("/bucket", headers={"Host": "127.0.0.1:4566", "Origin": "http://evil.example"}).status_code
        == 403
    )


def test_public_urls_need_no_token_on_a_shared_sandbox():
    client = _guard(AccessPolicy(bind_host="0.0.0.0", access_token="SBXTOKEN"))
    environ = {"REMOTE_ADDR": "192.168.1.20"}
    assert (
        client.get(
            "/_aws/execute-api/abc/x", headers={"Host": "192.168.1.5:4566"}, environ_overrides=environ
        ).status_code
        == 200
    )
    assert (
        client.get("/bucket", headers={"Host": "192.168.1.5:4566"}, environ_overrides=environ).status_code
        == 403
    )


# -- run_local.py generate-event -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, model",
    [
        ("apigateway-http-api", APIGatewayProxyEventV2Model),
        ("apigateway-aws-proxy", APIGatewayProxyEventModel),
    ],
)
def test_generate_event_prints_a_complete_api_gateway_event(capsys, kind, model):
    import json

    from sandbox.cli import main

    assert main(["generate-event", kind, "--method", "POST", "--path", "/items/7", "--body", '{"a": 1}']) == 0
    event = json.loads(capsys.readouterr().out)
    model.model_validate(event)
    assert event["body"] == '{"a": 1}' and describe(event)[0] == "aws:apigateway"
