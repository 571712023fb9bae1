"""``--example api``: an HTTP API over the resized images (examples/api/), made with API Gateway's quick
create, as the README's "On AWS" commands make it."""

from __future__ import annotations

from sandbox.config import ACCOUNT_ID
from sandbox.guide.example_setups import EXAMPLES_DIR, Example, allow_invoke, create_function, package

FUNCTION = "ImagesApiLambda"
API = "images-api"


def setup(sandbox) -> list[str]:
    config = sandbox.config
    arn = create_function(
        sandbox,
        FUNCTION,
        package(EXAMPLES_DIR / "api"),
        "lambda_function.lambda_handler",
        Timeout=10,
        Environment={
            "Variables": {
                "SOURCE_BUCKET": config.source_bucket,
                "DESTINATION_BUCKET": config.destination_bucket,
            }
        },
    )
    api = sandbox.shared_client("apigatewayv2").create_api(Name=API, ProtocolType="HTTP", Target=arn)
    # On AWS, API Gateway may invoke the function only with this permission (the sandbox checks none).
    allow_invoke(
        sandbox,
        FUNCTION,
        f"{API}-invoke",
        "apigateway.amazonaws.com",
        f"arn:aws:execute-api:{config.region}:{ACCOUNT_ID}:{api['ApiId']}/*",
    )
    url = api["ApiEndpoint"]
    return [
        f"{url}/images -> {FUNCTION}: GET lists, GET /images/<key> serves one, PUT /images/<key> uploads",
        f"try: curl {url}/images   (or {sandbox.endpoint_url}/_aws/execute-api/{api['ApiId']}/images)",
    ]


EXAMPLE = Example("api", "an HTTP API that lists, serves and uploads the images (API Gateway)", setup)
