"""Where events that failed every attempt go: the function's dead-letter queue (``DeadLetterConfig``), an
SQS queue on the local endpoint, read and written through the SQS API as on AWS: the original event as
the message body, with AWS's ``RequestID``, ``ErrorCode`` and ``ErrorMessage`` message attributes.
The on-failure destination's invocation record is destinations.py's; both receive when both are set.
Without either, AWS discards the event; the page and the logs still show it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sandbox.config import FunctionConfiguration
from sandbox.errors import SandboxError
from sandbox.lambda_.invocation import InvocationRecord


class DeadLetters:
    def __init__(
        self, sqs, region: str, count_metric: Callable[[str, str], None], report: Callable[[str], None]
    ):
        self.sqs = sqs
        self.region = region
        self._count_metric = count_metric  # (function name, metric name), e.g. DeadLetterErrors
        self.report = report

    def send(self, record: InvocationRecord, function: FunctionConfiguration, condition: str) -> bool:
        """Deliver a failed event to the function's dead-letter queue; True when it took it."""
        delivered = False
        if function.dlq_name:
            try:
                self.sqs.send_message(
                    QueueUrl=self._url(function.dlq_name),
                    MessageBody=json.dumps(record.event),
                    MessageAttributes={
                        "RequestID": {"DataType": "String", "StringValue": record.request_id},
                        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                        "ErrorMessage": {
                            "DataType": "String",
                            "StringValue": (record.error_message or condition)[:1000],
                        },
                    },
                )
                delivered = True
            except Exception as exc:
                self._count_metric(record.function_name, "DeadLetterErrors")
                self.report(f"sandbox: could not dead-letter {record.request_id}: {exc}")
        return delivered

    def peek(self, function: FunctionConfiguration, limit: int = 100) -> list[dict]:
        """The events waiting in the dead-letter queue (they stay in the queue)."""
        url = self._queue_of(function)
        found: dict[str, dict] = {}
        for _ in range(max(1, limit // 10)):
            batch = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
            ).get("Messages", [])
            new = [m for m in batch if m["MessageId"] not in found]
            if not new:
                break
            for message in new:
                attributes = {
                    k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()
                }
                found[message["MessageId"]] = {
                    "message_id": message["MessageId"],
                    "request_id": attributes.get("RequestID"),
                    "error_code": attributes.get("ErrorCode"),
                    "error_message": attributes.get("ErrorMessage"),
                    "event": _event_of(message),
                }
        return list(found.values())[:limit]

    def take(
        self,
        function: FunctionConfiguration,
        message_ids: list[str] | None = None,
        resubmit: Callable[[dict], None] = lambda event: None,
    ) -> int:
        """Hand each dead-lettered event (or only ``message_ids``) to ``resubmit``, then delete it from the
        queue; the others become visible again at once. Returns how many were handed over."""
        url = self._queue_of(function)
        taken = 0
        for _ in range(100):
            batch = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
                "Messages", []
            )
            if not batch:
                break
            for message in batch:
                if message_ids is not None and message["MessageId"] not in message_ids:
                    self.sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                    continue
                event = _event_of(message)
                resubmit(event if isinstance(event, dict) else {"body": event})
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                taken += 1
            if message_ids is not None and taken >= len(message_ids):
                break
        return taken

    def _queue_of(self, function: FunctionConfiguration) -> str:
        if not function.dlq_name:
            raise SandboxError(
                f"{function.function_name} has no dead-letter queue (DeadLetterConfig); failed "
                f"events are discarded, as on AWS."
            )
        return self._url(function.dlq_name)

    def _url(self, queue_name: str) -> str:
        return self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]


def _event_of(message: dict):
    try:
        return json.loads(message["Body"])
    except ValueError:
        return message["Body"]
