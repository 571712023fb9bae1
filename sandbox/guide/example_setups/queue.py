"""``--example queue``: S3 -> SQS -> Lambda, the guide's resize fed through a queue (examples/queue/)."""

from __future__ import annotations

import json

from sandbox.config import ACCOUNT_ID, LAYER_NAME, PROJECT_ROOT
from sandbox.guide.example_setups import EXAMPLES_DIR, Example, create_function, package
from sandbox.lambda_.packaging import installed_pillow_layer_bytes

BUCKET = "queued-image-bucket123"
QUEUE = "image-resize-queue"
DLQ = "image-resize-queue-dlq"
FUNCTION = "ImageResizeQueueLambda"


def setup(sandbox) -> list[str]:
    sqs, s3, lam = sandbox.shared_client("sqs"), sandbox.shared_client("s3"), sandbox.shared_client("lambda")
    region = sandbox.config.region
    sqs.create_queue(QueueName=DLQ)
    # AWS recommends a visibility timeout of at least 6 x the function's timeout.
    url = sqs.create_queue(
        QueueName=QUEUE,
        Attributes={
            "VisibilityTimeout": str(6 * sandbox.function.timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{DLQ}", "maxReceiveCount": "3"}
            ),
        },
    )["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{QUEUE}"
    # Step 3 of the guide: the function needs Pillow from a layer (here the local twin, see
    # sandbox/lambda_/packaging/layers.py).
    layer = lam.publish_layer_version(
        LayerName=LAYER_NAME,
        Content={"ZipFile": installed_pillow_layer_bytes()},
        CompatibleRuntimes=[sandbox.function.runtime],
    )["LayerVersionArn"]
    create_function(
        sandbox,
        FUNCTION,
        package(PROJECT_ROOT / "handler", EXAMPLES_DIR / "queue"),
        "queue_handler.lambda_handler",
        Timeout=sandbox.function.timeout,
        MemorySize=sandbox.function.memory_size,
        Layers=[layer],
    )
    lam.create_event_source_mapping(
        FunctionName=FUNCTION,
        EventSourceArn=queue_arn,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"Id": "uploads-to-queue", "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    return [
        f"s3://{BUCKET} -> {url} -> {FUNCTION} -> s3://{sandbox.config.destination_bucket}",
        f"try: aws s3 cp sample_images/test.jpg s3://{BUCKET}/test.jpg",
    ]


EXAMPLE = Example("queue", "uploads reach the resize through an SQS queue", setup)
