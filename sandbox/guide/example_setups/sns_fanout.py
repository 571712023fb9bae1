"""``--example sns-fanout``: an SNS topic fanned out to a function and to a queue (examples/sns-fanout/).
Set up with the calls the README shows for AWS: create-topic, add-permission, subscribe (lambda), and a
queue subscribed with raw delivery and a filter policy."""

from __future__ import annotations

import json

from sandbox.guide.example_setups import EXAMPLES_DIR, Example, allow_invoke, create_function, package

TOPIC = "orders"
FUNCTION = "OrderNotifyLambda"
QUEUE = "big-orders"
FILTER_POLICY = {"size": ["big"]}


def setup(sandbox) -> list[str]:
    function_arn = create_function(
        sandbox, FUNCTION, package(EXAMPLES_DIR / "sns-fanout"), "lambda_function.lambda_handler", Timeout=10
    )
    sns, sqs = sandbox.shared_client("sns"), sandbox.shared_client("sqs")
    topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    allow_invoke(sandbox, FUNCTION, f"{TOPIC}-sns", "sns.amazonaws.com", topic_arn)
    sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn)
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps(FILTER_POLICY)},
    )
    return [
        f"topic {TOPIC} -> {FUNCTION} (every message) and -> queue {QUEUE} (raw, size = big only)",
        f"try: aws sns publish --topic-arn {topic_arn} --message hello",
    ]


EXAMPLE = Example("sns-fanout", "an SNS topic fanned out to a function and a filtered queue", setup)
