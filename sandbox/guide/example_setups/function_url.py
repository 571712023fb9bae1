"""``--example function-url``: a function with its own URL (examples/function-url/), public (auth NONE) with a
CORS configuration, and destinations for its asynchronous invocations, as the README's "On AWS" commands
make them."""

from __future__ import annotations

from sandbox.guide.example_setups import EXAMPLES_DIR, Example, allow_public_url, create_function, package

FUNCTION = "GreetingUrlLambda"
ON_SUCCESS = "greetings-done"
ON_FAILURE = "greetings-failed"
CORS = {
    "AllowOrigins": ["http://localhost:3000"],
    "AllowMethods": ["GET", "POST"],
    "AllowHeaders": ["content-type"],
    "MaxAge": 300,
}


def setup(sandbox) -> list[str]:
    create_function(
        sandbox, FUNCTION, package(EXAMPLES_DIR / "function-url"), "lambda_function.lambda_handler"
    )
    lam = sandbox.shared_client("lambda")
    url = lam.create_function_url_config(FunctionName=FUNCTION, AuthType="NONE", Cors=CORS)["FunctionUrl"]
    allow_public_url(sandbox, FUNCTION)
    sqs = sandbox.shared_client("sqs")
    arns = {}
    for queue in (ON_SUCCESS, ON_FAILURE):
        queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        arns[queue] = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    lam.put_function_event_invoke_config(
        FunctionName=FUNCTION,
        MaximumRetryAttempts=0,
        DestinationConfig={
            "OnSuccess": {"Destination": arns[ON_SUCCESS]},
            "OnFailure": {"Destination": arns[ON_FAILURE]},
        },
    )
    url_id = url.split("//", 1)[1].split(".", 1)[0]
    return [
        f"{url} -> {FUNCTION} (auth NONE, CORS for http://localhost:3000)",
        f"try: curl '{url}?name=Ada'   (or {sandbox.endpoint_url}/_aws/lambda-url/{url_id}/?name=Ada)",
        f"asynchronous invocations: records to the SQS queues {ON_SUCCESS} and {ON_FAILURE}",
    ]


EXAMPLE = Example(
    "function-url", "a function URL with CORS, and destinations for asynchronous invocations", setup
)
