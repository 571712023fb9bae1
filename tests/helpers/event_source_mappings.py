"""Queues and tables for the event source mapping tests: the function in tests/handlers/batches reports every
batch it receives on the queue "<source>-seen"; ``Seen`` reads those reports."""

from __future__ import annotations

import json
import uuid

from helpers.waiting import eventually


class Seen:
    """The batches the function reported for one queue or table, in arrival order."""

    def __init__(self, sb, source_name: str):
        self.sqs = sb.client("sqs")
        self.url = self.sqs.create_queue(QueueName=source_name.removesuffix(".fifo") + "-seen")["QueueUrl"]
        self.got: list[dict] = []

    def __call__(self, count: int = 0, timeout: float = 30) -> list[dict]:
        def enough():
            for message in self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0 if count == 0 else 1
            ).get("Messages", []):
                self.got.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
            return len(self.got) >= count

        eventually(enough, timeout=timeout, what=f"{count} batches reported by the function")
        return self.got


def new_queue(sb, visibility: int = 10, **attributes) -> tuple[str, str, Seen]:
    sqs = sb.client("sqs")
    name = f"q-{uuid.uuid4().hex[:8]}" + (".fifo" if attributes.get("FifoQueue") == "true" else "")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility), **attributes})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, Seen(sb, name)


def new_table(sb, view: str = "NEW_AND_OLD_IMAGES") -> tuple[str, str, Seen]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    table = sb.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )
    return name, table["TableDescription"]["LatestStreamArn"], Seen(sb, name)


def put(sb, table: str, key: str, text: str) -> None:
    sb.client("dynamodb").put_item(TableName=table, Item={"id": {"S": key}, "text": {"S": text}})


def queue_counts(sb, url: str) -> tuple[int, int]:
    attributes = sb.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
