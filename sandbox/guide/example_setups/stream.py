"""``--example stream``: DynamoDB Streams -> Lambda, captions for the resized images (examples/stream/)."""

from __future__ import annotations

from sandbox.guide.example_setups import EXAMPLES_DIR, Example, create_function, package

TABLE = "image-captions"
FUNCTION = "ImageCaptionsLambda"


def setup(sandbox) -> list[str]:
    table = sandbox.shared_client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    create_function(
        sandbox,
        FUNCTION,
        package(EXAMPLES_DIR / "stream"),
        "lambda_function.lambda_handler",
        Environment={"Variables": {"DESTINATION_BUCKET": sandbox.config.destination_bucket}},
    )
    sandbox.shared_client("lambda").create_event_source_mapping(
        FunctionName=FUNCTION,
        EventSourceArn=table["TableDescription"]["LatestStreamArn"],
        StartingPosition="LATEST",
        BatchSize=100,
        MaximumRetryAttempts=5,
    )
    return [
        f"table {TABLE} (stream) -> {FUNCTION} -> s3://{sandbox.config.destination_bucket}/captions/",
        f"try: aws dynamodb put-item --table-name {TABLE} --item "
        '\'{"key": {"S": "test.jpg"}, "caption": {"S": "A sunny day"}}\'',
    ]


EXAMPLE = Example("stream", "a captions table whose stream writes captions next to the images", setup)
