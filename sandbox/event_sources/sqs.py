"""SQS queues as an event source: what ``aws lambda create-event-source-mapping --event-source-arn
<queue ARN>`` sets up.

As on AWS, the mapping's poller long-polls the queue, batches and filters messages, invokes the function
synchronously, deletes the batch on success (all but the failed ones with ``ReportBatchItemFailures``)
and leaves it on failure, for the queue's visibility timeout and redrive policy to handle. The sandbox
runs one poller per mapping, with 1 s long polls so that stopping is quick.

AWS's semantics and where the sandbox differs: docs/event-sources.md.
"""

from __future__ import annotations

import base64
import io
import json
import time
from functools import cached_property

from sandbox.event_sources.base import EventSource, SourceContext, trace_hop
from sandbox.lambda_.debugging import messages_kept_in_flight
from sandbox.lambda_.event_source_mappings import (
    MAX_BATCH_SIZE,
    MappingConfig,
    PolledEventSource,
    PollerThread,
    failed_item_ids,
    passes_filters,
)
from sandbox.lambda_.invocation import InvocationStatus
from sandbox.lambda_.recursion import new_trace_id
from sandbox.telemetry.traces import new_root, trace_root

SOURCE = "aws:sqs"
LONG_POLL_S = 1


def describe(event) -> tuple[str, str, dict] | None:
    try:
        records = event["Records"]
        if not records or records[0].get("eventSource") != SOURCE:
            return None
        queue = records[0]["eventSourceARN"].rsplit(":", 1)[-1]
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return SOURCE, f"{len(records)} message(s) from {queue}", {"queue": queue, "messages": len(records)}


def sample_receive_message_event(queue: str, body: str, region: str, account: str) -> dict:
    """What a queue's mapping hands the function for one message (``sam local generate-event sqs
    receive-message``)."""
    import hashlib
    import uuid

    now = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": uuid.uuid4().hex,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now,
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "eventSource": SOURCE,
                "eventSourceARN": f"arn:aws:sqs:{region}:{account}:{queue}",
                "awsRegion": region,
            }
        ]
    }


def queue_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


DESTINATIONS = ("OnFailure", "OnSuccess")


class SqsEventSource(PolledEventSource, EventSource):
    name = "sqs"
    trigger_kind = "SQS queue"
    describe = staticmethod(describe)

    def __init__(self, context: SourceContext):
        super().__init__(context)
        self._urls: dict[str, str] = {}

    @cached_property
    def sqs(self):
        return self.context.client("sqs")

    def service_middleware(self) -> dict:
        return {"sqs": TraceHeaderToMessages}

    # -- the mapping runner's side (see LambdaService.add_mapping_runner) ----------------------------
    def accepts(self, arn: str) -> bool:
        return arn.startswith("arn:aws:sqs:")

    def validate(self, request: dict, function) -> str | None:
        """Lambda's checks of CreateEventSourceMapping for a queue."""
        arn = request["EventSourceArn"]
        if request.get("StartingPosition"):
            return "StartingPosition is not valid for SQS event sources."
        configured = request.get("DestinationConfig") or {}
        if any((configured.get(key) or {}).get("Destination") for key in DESTINATIONS):
            # a queue's failed messages go to its redrive policy's dead-letter queue instead
            return "Unsupported 'destinationConfig' parameter for given event source mapping type."
        try:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self._url(arn), AttributeNames=["VisibilityTimeout"]
            )["Attributes"]
        except Exception:
            return (
                "Error occurred while ReceiveMessage. SQS Error Code: "
                "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not "
                f"exist: {queue_name(arn)}"
            )
        visibility = int(attributes.get("VisibilityTimeout", 30))
        if visibility < function.timeout:
            return (
                f"Queue visibility timeout: {visibility} seconds is less than Function timeout: "
                f"{function.timeout} seconds"
            )
        batch = int(request.get("BatchSize") or 10)
        fifo = arn.endswith(".fifo")
        limit = MAX_BATCH_SIZE["sqs-fifo" if fifo else "sqs"]
        if not 1 <= batch <= limit:
            return f"BatchSize must be between 1 and {limit} for {'FIFO' if fifo else 'standard'} queues."
        if batch > 10 and not float(request.get("MaximumBatchingWindowInSeconds") or 0) >= 1:
            return (
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
                "greater than 10"
            )
        return None

    def apply(self, mapping: MappingConfig) -> None:
        self.remove(mapping.uuid)
        if mapping.enabled:
            self._pollers[mapping.uuid] = PollerThread(
                f"sqs-poller-{queue_name(mapping.event_source_arn)}",
                lambda stop, m=mapping: self._poll(m, stop),
                on_error=lambda exc, m=mapping: self.fault(m, "polling the queue", exc),
            ).start()

    # -- polling -----------------------------------------------------------------------------------
    def _url(self, arn: str) -> str:
        if arn not in self._urls:
            parts = arn.split(":")
            self._urls[arn] = self.sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])[
                "QueueUrl"
            ]
        return self._urls[arn]

    def _receive(self, mapping: MappingConfig, stop) -> list[dict]:
        url = self._url(mapping.event_source_arn)
        batch: list[dict] = []
        deadline = None
        while len(batch) < mapping.batch_size and not stop.is_set():
            wait = LONG_POLL_S
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(LONG_POLL_S, max(0, int(remaining + 0.999)))
            messages = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, mapping.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if messages:
                batch.extend(messages)
                if mapping.batching_window_s <= 0:
                    break
                if deadline is None:
                    deadline = time.monotonic() + mapping.batching_window_s
            elif batch and deadline is None:
                break
        return batch

    def _poll(self, mapping: MappingConfig, stop) -> None:
        """One batch. Until its outcome is known nothing is deleted: whatever fails (the function, or the
        sandbox building or sending the batch) leaves the messages to return after their visibility
        timeout, and the queue's redrive policy moves those that keep failing to its dead-letter queue."""
        messages = self._receive(mapping, stop)
        if not messages:
            return
        try:
            records = [self._record(m, mapping.event_source_arn) for m in messages]
        except Exception as exc:
            self.fault(mapping, "building the batch's event", exc)
            return  # a failed batch: every message returns after its visibility timeout
        wanted = [r for r in records if passes_filters(mapping, r, body_as_json=True)]
        self._delete(mapping, [r for r in records if r not in wanted])  # AWS deletes filtered-out messages
        if not wanted:
            return
        result = self._invoke(mapping, wanted, stop)
        if result is None:
            return  # stopping: the messages come back after their visibility timeout
        if result.status != InvocationStatus.SUCCESS:
            return  # the whole batch comes back after the visibility timeout
        failed = failed_item_ids(result.result) if mapping.report_batch_item_failures else []
        if failed is None or any(f not in {r["messageId"] for r in wanted} for f in failed):
            # AWS: a malformed partial batch response, or one naming a messageId that is not in the batch,
            # fails the whole batch.
            self.last_results[mapping.uuid] = "PROBLEM: Function call failed"
            return
        deleted = [r for r in wanted if r["messageId"] not in set(failed)]
        started = time.time()
        self._delete(mapping, deleted)
        trace_hop(
            self.context,
            result.trace_id,
            "SQS",
            "DeleteMessageBatch",
            queue_name(mapping.event_source_arn),
            started,
            time.time(),
            detail=f"{len(deleted)} of {len(wanted)} message(s) deleted",
        )

    def _invoke(self, mapping: MappingConfig, records: list[dict], stop):
        queue = queue_name(mapping.event_source_arn)
        debugged = getattr(self._service.runtime(mapping.function_name), "debug", None) is not None
        with messages_kept_in_flight(
            self.sqs, self._url(mapping.event_source_arn), [r["receiptHandle"] for r in records], debugged
        ):
            return self._invoke_batch(mapping, records, stop, queue)

    def _invoke_batch(self, mapping: MappingConfig, records: list[dict], stop, queue: str):
        trace_id = self._trace_batch(mapping, records, queue)
        return self.invoke_batch(
            mapping,
            records,
            stop,
            trace_id=trace_id,
            trigger="sqs",
            source=SOURCE,
            summary=f"{len(records)} message(s) from {queue}",
            subject={"queue": queue, "messages": len(records), "mapping": mapping.uuid},
            how_detected=f"the mapping's poller received {len(records)} message(s) from {queue} (long poll)",
            how_responded="the poller deletes the batch when the function succeeds (all but the reported "
            "batchItemFailures); failed messages return after the visibility timeout",
        )

    def _trace_batch(self, mapping: MappingConfig, records: list[dict], queue: str) -> str:
        """The batch's invocation continues the trace of its first message's ``AWSTraceHeader`` (as Lambda
        does; a message sent without one starts a trace here); each message's wait in the queue is a hop
        of its own trace, and the poller's batch a hop of the invocation's."""
        received = time.time()
        traces = getattr(self.context, "traces", None)
        roots = [
            trace_root(r["attributes"].get("AWSTraceHeader"))
            or (traces.message_root(r.get("md5OfBody", "")) if traces is not None else None)
            for r in records
        ]
        root = roots[0] or new_root()
        waits: dict[str, list[float]] = {}
        for message_root, message in zip(roots, records):
            sent = int(message["attributes"].get("SentTimestamp") or 0) / 1000 or received
            waits.setdefault(message_root or root, []).append(sent)
        for message_root, sent in waits.items():
            trace_hop(
                self.context,
                message_root,
                "SQS",
                "queue",
                queue,
                min(sent),
                received,
                detail=f"{len(sent)} message(s) waited; received by the mapping's poller",
            )
        trace_hop(
            self.context,
            root,
            "Lambda",
            "poller batch",
            queue,
            received,
            time.time(),
            detail=f"batch of {len(records)}" + (f" ({len(waits)} traces)" if len(waits) > 1 else ""),
        )
        return new_trace_id(mapping.function_name, 1, root=root)

    def _delete(self, mapping: MappingConfig, records: list[dict]) -> None:
        url = self._url(mapping.event_source_arn)
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            failed = self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            ).get("Failed")
            if failed:  # those messages come back after their visibility timeout: delivered again, not lost
                self.fault(
                    mapping,
                    "deleting a delivered batch",
                    RuntimeError("; ".join(f"{f.get('Code')}: {f.get('Message')}" for f in failed)),
                )

    def _record(self, message: dict, arn: str) -> dict:
        """A message as the event's record carries it (SqsModel's shape)."""
        attributes = dict(message.get("Attributes") or {})
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": {
                k: attributes[k]
                for k in (
                    "ApproximateReceiveCount",
                    "SentTimestamp",
                    "SenderId",
                    "ApproximateFirstReceiveTimestamp",
                    "SequenceNumber",
                    "MessageGroupId",
                    "MessageDeduplicationId",
                    "AWSTraceHeader",
                )
                if k in attributes
            },
            "messageAttributes": {
                name: _attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            **(
                {"md5OfMessageAttributes": message["MD5OfMessageAttributes"]}
                if message.get("MD5OfMessageAttributes")
                else {}
            ),
            "eventSource": SOURCE,
            "eventSourceARN": arn,
            "awsRegion": self.context.region,
        }


class TraceHeaderToMessages:
    """SQS keeps a sender's ``X-Amzn-Trace-Id`` header (a function's SDK call carries it) as the
    ``AWSTraceHeader`` system attribute of every message of its SendMessage or SendMessageBatch, unless a
    message names its own (which wins, as on AWS); Lambda's poller then continues that trace. moto ignores
    the header, so it is written into the request here (SQS's JSON protocol)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        header = environ.get("HTTP_X_AMZN_TRACE_ID")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if header and target in ("AmazonSQS.SendMessage", "AmazonSQS.SendMessageBatch"):
            _add_trace_header(environ, header, batch=target.endswith("Batch"))
        return self.app(environ, start_response)


def _add_trace_header(environ, header: str, batch: bool) -> None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        request = json.loads(body)
        messages = request.get("Entries") if batch else [request]
        for message in messages if isinstance(messages, list) else []:
            if isinstance(message, dict):
                attributes = message.setdefault("MessageSystemAttributes", {})
                if isinstance(attributes, dict) and "AWSTraceHeader" not in attributes:
                    attributes["AWSTraceHeader"] = {"DataType": "String", "StringValue": header}
        body = json.dumps(request).encode()
    except (ValueError, AttributeError, TypeError):
        pass  # not SQS's JSON: moto answers it as it is
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def _attribute(value: dict) -> dict:
    """A message attribute as Lambda's event spells it (lower camel case, binary as base64)."""
    attribute = {
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [_b64(v) for v in value.get("BinaryListValues", [])],
        "dataType": value.get("DataType"),
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _b64(value["BinaryValue"])
    return attribute


def _b64(data) -> str:
    return base64.b64encode(data if isinstance(data, bytes) else str(data).encode()).decode()
