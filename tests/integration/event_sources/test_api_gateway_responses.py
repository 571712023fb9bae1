"""Every kind of function output, through a running sandbox and a real HTTP client, as each API answers
it: an HTTP API with payload format 2.0, one with 1.0, a REST API, and a REST API with binaryMediaTypes.

AWS's rules (API Gateway developer guide): payload 2.0 infers a response from valid JSON without
``statusCode`` (200, ``content-type: application/json``, the output as the body) and answers 500
``{"message":"Internal Server Error"}`` for anything it cannot use; payload 1.0 on an HTTP API needs
``statusCode`` and answers 500 the same way; a REST API's Lambda proxy answers 502
``{"message": "Internal server error"}`` for a malformed response (any key besides statusCode, headers,
multiValueHeaders, body, isBase64Encoded) or a function error, and decodes a base64 body only when the
request's Accept names one of its binaryMediaTypes. No route: 404 on HTTP APIs, 403
``Missing Authentication Token`` on REST."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import pytest

from helpers.api_gateway import add_resource, call, create_functions
from helpers.sandboxes import start_sandbox

PNG = b"\x89PNG\r\n\x1a\n\x00\xff"


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def functions(sb):
    return create_functions(sb)


@dataclass(frozen=True)
class Expect:
    status: int
    body: bytes
    headers: dict = field(default_factory=dict)  # name: every value expected ([] = absent)


HTTP_ERROR = Expect(500, b'{"message":"Internal Server Error"}', {"Content-Type": ["application/json"]})
JSON = {"Content-Type": ["application/json"]}
REST_ERROR = Expect(
    502,
    b'{"message": "Internal server error"}',
    {**JSON, "x-amzn-ErrorType": ["InternalServerErrorException"]},
)
NOT_FOUND = Expect(404, b'{"message":"Not Found"}', JSON)
PNG_TYPE = {"Content-Type": ["image/png"]}

# path after the stage: {api kind: what API Gateway answers}; "rest-binary" only where it differs from "rest"
CASES = {
    "bare string": (
        "/x/text",
        {"http2": Expect(200, b"just a string", JSON), "http1": HTTP_ERROR, "rest": REST_ERROR},
    ),
    "dict without statusCode": (
        "/x/inferred",
        {"http2": Expect(200, b'{"hello": "world"}', JSON), "http1": HTTP_ERROR, "rest": REST_ERROR},
    ),
    "list": ("/x/list", {"http2": Expect(200, b'[1, "two"]', JSON), "http1": HTTP_ERROR, "rest": REST_ERROR}),
    "None": ("/x/none", {"http2": Expect(200, b"null", JSON), "http1": HTTP_ERROR, "rest": REST_ERROR}),
    "exception": ("/x/raise", {"http2": HTTP_ERROR, "http1": HTTP_ERROR, "rest": REST_ERROR}),
    "invalid JSON (NaN)": ("/x/nan", {"http2": HTTP_ERROR, "http1": HTTP_ERROR, "rest": REST_ERROR}),
    "unserialisable output": (
        "/x/unserialisable",
        {"http2": HTTP_ERROR, "http1": HTTP_ERROR, "rest": REST_ERROR},
    ),
    # A REST API without a matching binary media type passes the body through as text, undecoded.
    "bad base64 with isBase64Encoded": (
        "/x/bad-base64",
        {
            "http2": HTTP_ERROR,
            "http1": HTTP_ERROR,
            "rest": Expect(200, b"not base64!", PNG_TYPE),
            "rest-binary": REST_ERROR,
        },
    ),
    "extra keys": (
        "/x/extra-key",
        {"http2": Expect(200, b"x"), "http1": Expect(200, b"x"), "rest": REST_ERROR},
    ),
    "cookies": (
        "/x/cookies",
        {
            "http2": Expect(200, b"cookies", {"Set-Cookie": ["a=1", "b=2; Secure"]}),
            "http1": Expect(200, b"cookies", {"Set-Cookie": []}),  # not a 1.0 key: ignored
            "rest": REST_ERROR,
        },
    ),
    "multiValueHeaders": (
        "/x/multi-value-headers",
        {
            "http2": Expect(200, b"multi", {"X-Multi": [], "X-Single": ["s"]}),  # not a 2.0 key: ignored
            "http1": Expect(200, b"multi", {"X-Multi": ["a", "b"], "X-Single": ["s"]}),
            "rest": Expect(200, b"multi", {"X-Multi": ["a", "b"], "X-Single": ["s"]}),
        },
    ),
    "binary": (
        "/x/binary",
        {
            "http2": Expect(200, PNG, PNG_TYPE),
            "http1": Expect(200, PNG, PNG_TYPE),
            "rest": Expect(200, base64.b64encode(PNG), PNG_TYPE),
            "rest-binary": Expect(200, PNG, PNG_TYPE),
        },
    ),
    "no route": (
        "/nowhere",
        {
            "http2": NOT_FOUND,
            "http1": NOT_FOUND,
            "rest": Expect(
                403,
                b'{"message":"Missing Authentication Token"}',
                {"x-amzn-ErrorType": ["MissingAuthenticationTokenException"]},
            ),
        },
    ),
    "function timeout": (
        "/short/sleep?seconds=3",
        {"http2": HTTP_ERROR, "http1": HTTP_ERROR, "rest": REST_ERROR},
    ),
}
KINDS = ("http2", "http1", "rest", "rest-binary")


@pytest.fixture(scope="module")
def apis(sb, functions):
    """{kind: (api id, stage prefix)}: every API sends /x/... to "api-test" and /short/... to "api-short"
    (a function timeout of 1 s)."""
    made = {}
    v2 = sb.client("apigatewayv2")
    for kind, payload in (("http2", "2.0"), ("http1", "1.0")):
        api = v2.create_api(Name=f"responses-{kind}", ProtocolType="HTTP")["ApiId"]
        for prefix, name in (("/x", "api-test"), ("/short", "api-short")):
            integration = v2.create_integration(
                ApiId=api,
                IntegrationType="AWS_PROXY",
                IntegrationUri=functions[name],
                PayloadFormatVersion=payload,
            )["IntegrationId"]
            v2.create_route(
                ApiId=api, RouteKey=f"ANY {prefix}/{{proxy+}}", Target=f"integrations/{integration}"
            )
        v2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
        made[kind] = (api, "")
    apigw = sb.client("apigateway")
    for kind, binary in (("rest", []), ("rest-binary", ["image/png"])):
        api = apigw.create_rest_api(name=f"responses-{kind}", binaryMediaTypes=binary)["id"]
        add_resource(sb, api, "/x/{proxy+}", functions["api-test"])
        add_resource(sb, api, "/short/{proxy+}", functions["api-short"])
        apigw.create_deployment(restApiId=api, stageName="prod")
        made[kind] = (api, "/prod")
    return made


def _table():
    for case, (path, expected) in CASES.items():
        for kind in KINDS:
            if kind in expected or kind == "rest-binary":
                expect = expected.get(kind, expected.get("rest"))
                marks = [pytest.mark.slow] if case == "function timeout" else []
                yield pytest.param(kind, path, expect, id=f"{case}-{kind}", marks=marks)


@pytest.mark.parametrize("kind, path, expect", list(_table()))
def test_api_gateway_answers_each_function_output_as_aws_documents(sb, apis, kind, path, expect):
    api, stage = apis[kind]
    # The REST API with binaryMediaTypes decodes only for a request that accepts such a type.
    headers = {"Accept": "image/png"} if kind == "rest-binary" else {}
    answer = call(sb, api, stage + path, headers=headers)
    assert (answer.status, answer.body) == (expect.status, expect.body)
    for name, values in expect.headers.items():
        assert answer.all(name) == values, name
