"""The events API Gateway sends, as AWS writes them, through a running sandbox and a real HTTP client:
repeated headers and query parameters in payload 1.0 and 2.0, header names' case, the request ids'
formats, HTTP API 1.0's requestContext, and the trace the function gets in its event and environment.
Events are checked with Powertools' models."""

from __future__ import annotations

import http.client
import json
import re
import uuid

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
)

from helpers.api_gateway import call, create_functions, http_api, records_for, rest_api
from helpers.sandboxes import start_sandbox

SHORT_ID = re.compile(r"^[A-Za-z0-9_-]{15}=$")  # LV7fzho-PHcEJPw=


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def functions(sb):
    return create_functions(sb)


@pytest.fixture(scope="module")
def apis(sb, functions):
    """{kind: (api id, stage prefix)} for an HTTP API with payload 2.0, one with 1.0 and a REST API."""
    return {
        "http2": (http_api(sb, functions["api-test"]), ""),
        "http1": (http_api(sb, functions["api-test"], payload="1.0"), ""),
        "rest": (rest_api(sb, functions["api-test"]), "/prod"),
    }


def send(sb, api, target, headers):
    """A request with these (name, value) headers exactly: names' case and repeats kept."""
    connection = http.client.HTTPConnection("127.0.0.1", sb.endpoint.port, timeout=60)
    connection.putrequest("GET", f"/_aws/execute-api/{api}{target}")
    for name, value in headers:
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 200, body
    return json.loads(body)


# -- repeated headers and query parameters, names' case -----------------------------------------------
def test_payload_1_keeps_each_repeated_header_and_the_names_as_sent(sb, apis):
    sent = [("X-Multi", "one"), ("X-Multi", "two"), ("x-MiXed-Case", "m")]
    rest = APIGatewayProxyEventModel.model_validate(send(sb, apis["rest"][0], "/prod/echo", sent))
    assert rest.headers["X-Multi"] == "two" and rest.multiValueHeaders["X-Multi"] == ["one", "two"]
    assert rest.headers["x-MiXed-Case"] == "m" and "X-Mixed-Case" not in rest.headers
    http1 = APIGatewayProxyEventModel.model_validate(send(sb, apis["http1"][0], "/echo", sent))
    assert http1.headers["x-multi"] == "two" and http1.multiValueHeaders["x-multi"] == ["one", "two"]
    assert http1.headers["x-mixed-case"] == "m"


def test_payload_2_joins_repeated_headers_with_commas_under_lower_case_names(sb, apis):
    sent = [("X-Multi", "one"), ("X-Multi", "two"), ("x-MiXed-Case", "m")]
    event = APIGatewayProxyEventV2Model.model_validate(send(sb, apis["http2"][0], "/echo", sent))
    assert event.headers["x-multi"] == "one,two" and event.headers["x-mixed-case"] == "m"


def test_http_api_1_0_lower_cases_header_names(sb, apis):
    event = send(sb, apis["http1"][0], "/echo", [("User-Agent", "agent/1"), ("X-Custom", "v")])
    assert event["headers"]["user-agent"] == "agent/1" and event["headers"]["x-custom"] == "v"
    added = {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"}
    assert added <= set(event["headers"])
    assert not [name for name in event["headers"] if name != name.lower()]


@pytest.mark.parametrize("kind", ["rest", "http1"])
def test_payload_1_gives_the_last_value_of_a_repeated_query_parameter_and_every_value(sb, apis, kind):
    api, stage = apis[kind]
    event = APIGatewayProxyEventModel.model_validate(call(sb, api, f"{stage}/echo?p=1&p=2&q=x").json())
    assert event.queryStringParameters == {"p": "2", "q": "x"}
    assert event.multiValueQueryStringParameters == {"p": ["1", "2"], "q": ["x"]}


def test_payload_2_joins_a_repeated_query_parameter_with_commas(sb, apis):
    event = APIGatewayProxyEventV2Model.model_validate(call(sb, apis["http2"][0], "/echo?p=1&p=2").json())
    assert event.queryStringParameters == {"p": "1,2"}


# -- request ids and HTTP API 1.0's requestContext ----------------------------------------------------
def test_rest_api_request_id_is_a_uuid_and_its_extended_request_id_is_short(sb, apis):
    answer = call(sb, apis["rest"][0], "/prod/echo")
    context = APIGatewayProxyEventModel.model_validate(answer.json()).requestContext
    assert str(uuid.UUID(context.requestId)) == context.requestId
    assert SHORT_ID.match(context.extendedRequestId), context.extendedRequestId
    assert (answer.header("x-amzn-RequestId"), answer.header("x-amz-apigw-id")) == (
        context.requestId,
        context.extendedRequestId,
    )


def test_http_api_request_id_is_short_and_is_the_apigw_requestid_header(sb, apis):
    answer = call(sb, apis["http2"][0], "/echo")
    context = APIGatewayProxyEventV2Model.model_validate(answer.json()).requestContext
    assert SHORT_ID.match(context.requestId), context.requestId
    assert answer.header("apigw-requestid") == context.requestId


def test_http_api_1_0_request_context_is_as_aws_documents_it(sb, apis):
    answer = call(sb, apis["http1"][0], "/echo")
    raw = answer.json()["requestContext"]
    context = APIGatewayProxyEventModel.model_validate(answer.json()).requestContext
    assert SHORT_ID.match(context.requestId), context.requestId
    assert context.requestId == context.extendedRequestId == answer.header("apigw-requestid")
    assert raw["resourceId"] is None and raw["authorizer"] == {"claims": None, "scopes": None}
    assert "routeKey" not in raw  # a 1.0 event names its resource, not its route; the record names the route
    assert {r.subject["route"] for r in records_for(sb, apis["http1"][0])} == {"ANY /{proxy+}"}


# -- the trace ----------------------------------------------------------------------------------------
def _roots(answer):
    traced = answer.json()
    headers = {k.lower(): v for k, v in traced["event"]["headers"].items()}
    event_header, environment = headers["x-amzn-trace-id"], traced["environment"]
    parts = dict(p.split("=", 1) for p in environment.split(";"))
    assert parts.get("Parent"), environment  # the Lambda segment's own parent
    return dict(p.split("=", 1) for p in event_header.split(";"))["Root"], parts["Root"]


@pytest.mark.parametrize("kind", ["http2", "http1", "rest"])
def test_function_gets_the_same_trace_in_its_event_and_its_environment(sb, apis, kind):
    api, stage = apis[kind]
    in_event, in_environment = _roots(call(sb, api, f"{stage}/trace"))
    assert re.match(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$", in_event) and in_environment == in_event


def test_a_trace_the_client_started_continues_into_the_function(sb, apis):
    root = "1-5e9f0c65-1de4d666d4dd26aced652b6c"
    answer = call(sb, apis["http2"][0], "/trace", headers={"X-Amzn-Trace-Id": f"Root={root}"})
    assert _roots(answer) == (root, root)
