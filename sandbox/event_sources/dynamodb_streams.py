"""DynamoDB Streams as an event source: a table with ``StreamSpecification`` and
``aws lambda create-event-source-mapping --event-source-arn <stream ARN> --starting-position ...``.

As on AWS, the mapping's poller reads each shard in order, batches and filters the records, and invokes
the function synchronously; a failing batch blocks its shard until it succeeds, expires or runs out of
retries, then goes to the on-failure destination. ``BisectBatchOnFunctionError`` and
``ReportBatchItemFailures`` are honoured. The sandbox retries after ``RETRY_DELAY_S`` (AWS backs off).

AWS's semantics and where the sandbox differs: docs/event-sources.md.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from functools import cached_property

from sandbox.event_sources.base import EventSource, trace_hop
from sandbox.lambda_.destinations import send_batch_record, stream_destination_problem
from sandbox.lambda_.event_source_mappings import (
    MAX_BATCH_SIZE,
    MappingConfig,
    PolledEventSource,
    PollerThread,
    failed_batch,
    failed_item_ids,
    now_iso,
    passes_filters,
)
from sandbox.lambda_.invocation import InvocationStatus
from sandbox.lambda_.recursion import new_trace_id
from sandbox.telemetry.traces import new_root

SOURCE = "aws:dynamodb"
POLL_INTERVAL_S = (
    0.25  # "Lambda polls shards in your DynamoDB stream for records at a base rate of 4 times per second"
)
RETRY_DELAY_S = 0.5


def describe(event) -> tuple[str, str, dict] | None:
    try:
        records = event["Records"]
        if not records or records[0].get("eventSource") != SOURCE:
            return None
        table = records[0]["eventSourceARN"].split(":table/", 1)[1].split("/", 1)[0]
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return SOURCE, f"{len(records)} change(s) to {table}", {"table": table, "records": len(records)}


def sample_update_event(table: str, region: str, account: str) -> dict:
    """An INSERT, a MODIFY and a REMOVE of one item, as a stream mapping hands them over (``sam local
    generate-event dynamodb update``)."""
    import uuid

    label = stream_label(datetime.now(timezone.utc))
    arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}/stream/{label}"
    keys = {"key": {"S": "test.jpg"}}
    old, new = {**keys, "caption": {"S": "A sunny day"}}, {**keys, "caption": {"S": "A sunny afternoon"}}
    changes = [("INSERT", None, old), ("MODIFY", old, new), ("REMOVE", new, None)]
    records = []
    for number, (name, before, after) in enumerate(changes, start=1):
        change = {
            "ApproximateCreationDateTime": int(time.time()),
            "Keys": keys,
            "SequenceNumber": f"{number}00000000000000000000{number}",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        if after is not None:
            change["NewImage"] = after
        if before is not None:
            change["OldImage"] = before
        change["SizeBytes"] = record_size(change)
        records.append(
            {
                "eventID": uuid.uuid4().hex,
                "eventName": name,
                "eventVersion": "1.1",
                "eventSource": SOURCE,
                "awsRegion": region,
                "dynamodb": change,
                "eventSourceARN": arn,
            }
        )
    return {"Records": records}


def stream_label(created: datetime) -> str:
    """A stream's label, as the last part of its ARN: the stream's creation time in UTC, milliseconds."""
    return created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}"


def _sequence(item: dict) -> str:
    return item["dynamodb"]["SequenceNumber"]


def _epoch(created) -> float | None:
    """ApproximateCreationDateTime as epoch seconds (boto3 reads it as a datetime)."""
    if created is None:
        return None
    return created.timestamp() if isinstance(created, datetime) else float(created)


def _as_event_json(value):
    """An attribute value (or map of them) as Lambda's event spells it: binary (``B``, ``BS``, at any
    depth) as base64 text, as the Streams API's JSON does."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _as_event_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_event_json(v) for v in value]
    return value


def _number_size(text: str) -> int:
    """A number's size: 1 byte per two significant digits (leading and trailing zeros trimmed), plus 1."""
    mantissa = text.lower().split("e", 1)[0].lstrip("+-").replace(".", "")
    digits = len(mantissa.strip("0"))
    return (digits + 1) // 2 + 1


def _value_size(value: dict) -> int:
    """An attribute value's size, by DynamoDB's item-size rules (binary counts its raw bytes)."""
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return len(data) if isinstance(data, (bytes, bytearray)) else len(base64.b64decode(data))
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":  # 3 bytes for the map, 1 per element
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    return 0


def item_size(item: dict | None) -> int:
    """An item's size: the UTF-8 length of each attribute name plus its value's size."""
    return sum(len(name.encode()) + _value_size(value) for name, value in (item or {}).items())


def record_size(change: dict) -> int:
    """A stream record's ``SizeBytes``, as AWS counts it: the sizes of its Keys, NewImage and OldImage
    (Powertools' and aws-lambda-go's captured events: Keys {Id: N 101} + NewImage {Message: S "New
    item!", Id: N 101} is 26)."""
    return sum(item_size(change.get(part)) for part in ("Keys", "NewImage", "OldImage"))


def table_of(stream_arn: str) -> str:
    return stream_arn.split(":table/", 1)[-1].split("/", 1)[0]


class DynamoDbStreamsEventSource(PolledEventSource, EventSource):
    name = "dynamodb"
    trigger_kind = "DynamoDB stream"
    describe = staticmethod(describe)

    @cached_property
    def streams(self):
        return self.context.client("dynamodbstreams")

    # -- the mapping runner's side -----------------------------------------------------------------
    def accepts(self, arn: str) -> bool:
        return arn.startswith("arn:aws:dynamodb:") and "/stream/" in arn

    def validate(self, request: dict, function) -> str | None:
        position = request.get("StartingPosition")
        if position not in ("TRIM_HORIZON", "LATEST"):
            return (
                "1 validation error detected: Value at 'startingPosition' failed to satisfy constraint: "
                "Member must satisfy enum value set: [TRIM_HORIZON, LATEST] (DynamoDB streams need one)."
            )
        try:
            self.streams.describe_stream(StreamArn=request["EventSourceArn"])
        except Exception:
            return f"Stream not found: {request['EventSourceArn']}"
        batch = int(request.get("BatchSize") or 100)
        if not 1 <= batch <= MAX_BATCH_SIZE["dynamodb"]:
            return f"BatchSize must be between 1 and {MAX_BATCH_SIZE['dynamodb']} for DynamoDB streams."
        age = request.get("MaximumRecordAgeInSeconds")
        if isinstance(age, int) and 0 <= age < 60:  # within the model's range, below Lambda's minimum
            return "MaximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800."
        destination = ((request.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if destination:
            return stream_destination_problem(destination)
        return None

    def apply(self, mapping: MappingConfig) -> None:
        previous = self._pollers.pop(mapping.uuid, None)
        position = getattr(previous, "shard_position", None)
        if position is None and self.context.state is not None:  # a restart: resume at the kept checkpoint
            position = self.context.state.load(f"esm-position/{mapping.uuid}")
        if previous is not None:
            previous.stop()
        if mapping.enabled:
            reader = _ShardReader(self, mapping, position)
            poller = PollerThread(
                f"ddb-stream-poller-{table_of(mapping.event_source_arn)}",
                reader.poll,
                on_error=lambda exc, m=mapping: self.fault(m, "reading the stream", exc),
            )
            poller.shard_position = reader.position  # an update or re-enable resumes where it was
            self._pollers[mapping.uuid] = poller.start()


class _ShardReader:
    """Reads one mapping's shards in order and hands them to the function, batch by batch."""

    def __init__(self, source: DynamoDbStreamsEventSource, mapping: MappingConfig, position: dict | None):
        self.source = source
        self.mapping = mapping
        self.position = position if position is not None else {}  # shard id -> last sequence number done
        self._iterators: dict[str, str] = {}
        self._pending: deque = deque()  # read, not yet delivered (kept across retries: the shard blocks)
        self._trace: str | None = None  # the trace of the batch being delivered (its checkpoint's)

    # -- reading -----------------------------------------------------------------------------------
    def _iterator(self, shard_id: str) -> str:
        streams, arn = self.source.streams, self.mapping.event_source_arn
        if shard_id not in self._iterators:
            if shard_id not in self.position and self.source.context.state is not None:
                self._keep_starting_point(shard_id)
            done = self.position.get(shard_id)
            if done is not None:
                kwargs = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": done}
            elif shard_id in self.position:  # kept as "from the shard's start"
                kwargs = {"ShardIteratorType": "TRIM_HORIZON"}
            else:
                kwargs = {"ShardIteratorType": self.mapping.starting_position or "LATEST"}
            self._iterators[shard_id] = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, **kwargs)[
                "ShardIterator"
            ]
        return self._iterators[shard_id]

    def _keep_starting_point(self, shard_id: str) -> None:
        """With a state directory, where the mapping starts reading a shard is kept on disk at once, so
        a restart before the first checkpoint resumes there: LATEST is the shard's newest record now
        (None: the shard is empty, read it from its start), TRIM_HORIZON its start."""
        newest = None
        if (self.mapping.starting_position or "LATEST") == "LATEST":
            streams, arn = self.source.streams, self.mapping.event_source_arn
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                if not page.get("Records"):
                    break
                newest = page["Records"][-1]["dynamodb"]["SequenceNumber"]
                iterator = page.get("NextShardIterator")
        self.position[shard_id] = newest
        self.source.context.state.save(f"esm-position/{self.mapping.uuid}", self.position)

    def _read(self) -> None:
        """Stream records as the Streams API returns them, kept until their batch is done (events are
        built at each attempt, so a failure to build one is a failed attempt, never a lost record)."""
        streams = self.source.streams
        shards = streams.describe_stream(StreamArn=self.mapping.event_source_arn)["StreamDescription"][
            "Shards"
        ]
        for shard in shards:
            shard_id = shard["ShardId"]
            response = streams.get_records(ShardIterator=self._iterator(shard_id), Limit=1000)
            if response.get("NextShardIterator"):
                self._iterators[shard_id] = response["NextShardIterator"]
            for item in response.get("Records", []):
                change = item.get("dynamodb") or {}
                if (
                    item.get("eventName") == "MODIFY"
                    and "OldImage" in change
                    and change["OldImage"] == change.get("NewImage")
                ):
                    continue  # a write that changes nothing emits no record on AWS
                self._pending.append((shard_id, item))

    def _record(self, item: dict) -> dict:
        """A stream record as Lambda's event carries it (DynamoDBStreamModel's shape): binary values as
        base64 text, ``ApproximateCreationDateTime`` in epoch seconds, ``SizeBytes`` by DynamoDB's rules."""
        change = {name: _as_event_json(value) for name, value in item["dynamodb"].items()}
        created = item["dynamodb"].get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = int(created.timestamp())
        change["SizeBytes"] = record_size(item["dynamodb"])
        return {
            "eventID": item.get("eventID"),
            "eventName": item["eventName"],
            "eventVersion": "1.1",
            "eventSource": SOURCE,
            "awsRegion": self.source.context.region,
            "dynamodb": change,
            "eventSourceARN": self.mapping.event_source_arn,
        }

    # -- delivering --------------------------------------------------------------------------------
    def poll(self, stop) -> None:
        if not self._pending:
            self._read()
        if not self._pending:
            stop.wait(POLL_INTERVAL_S)
            return
        if self.mapping.batching_window_s > 0 and len(self._pending) < self.mapping.batch_size:
            deadline = time.monotonic() + self.mapping.batching_window_s
            while len(self._pending) < self.mapping.batch_size and time.monotonic() < deadline:
                if stop.wait(min(POLL_INTERVAL_S, max(0.0, deadline - time.monotonic()))):
                    return
                self._read()
        shard_id = self._pending[0][0]
        batch = []
        for pending_shard, item in self._pending:
            if len(batch) == self.mapping.batch_size or pending_shard != shard_id:
                break
            batch.append(item)
        if self._deliver(shard_id, batch, stop):  # only a batch that is done leaves the shard's queue
            for _ in batch:
                self._pending.popleft()

    def _deliver(self, shard_id: str, items: list[dict], stop) -> bool:
        """Blocks the shard until the batch is done: delivered, or skipped after its retries or age
        (True), or the poller is stopping (False: the shard resumes from its last checkpoint)."""
        work = deque([items])
        attempts = 0
        while work and not stop.is_set():
            batch = work[0]
            if self._too_old(batch):
                self._skip(shard_id, batch, "RecordAgeExceeded", attempts, None)
                work.popleft()
                attempts = 0
                continue
            result = self._attempt(batch, stop)
            if result is None:
                return False
            failed = self._failed_sequence_numbers(batch, result)
            if not failed:
                work.popleft()
                attempts = 0
                continue
            if result.status != InvocationStatus.SUCCESS and self.mapping.bisect_on_error and len(batch) > 1:
                middle = len(batch) // 2  # bisecting does not use up retries
                work.popleft()
                work.appendleft(batch[middle:])
                work.appendleft(batch[:middle])
                continue
            if failed is not True:  # a partial batch response: checkpoint at the lowest failed record
                lowest = min(failed, key=int)
                work[0] = [r for r in batch if int(_sequence(r)) >= int(lowest)]
            attempts += 1
            if self.mapping.maximum_retry_attempts >= 0 and attempts > self.mapping.maximum_retry_attempts:
                self._skip(shard_id, work.popleft(), "RetryAttemptsExhausted", attempts, result)
                attempts = 0
                continue
            stop.wait(RETRY_DELAY_S)
        if stop.is_set():
            return False
        started = time.time()
        self._checkpoint(shard_id, _sequence(items[-1]))
        trace_hop(
            self.source.context,
            self._trace,
            "Lambda",
            "checkpoint",
            table_of(self.mapping.event_source_arn),
            started,
            time.time(),
            detail=f"shard {shard_id[-12:]} after {_sequence(items[-1])}",
        )
        self._trace = None
        return True

    def _attempt(self, batch: list[dict], stop):
        """One attempt at a batch: its event built and sent to the function. A failure of the sandbox's
        own path is told, counted and returned as a failed invocation (retried, bisected or skipped as a
        function error is). None: the poller is stopping."""
        try:
            records = [self._record(item) for item in batch]
        except Exception as exc:
            self.source.fault(self.mapping, "building the batch's event", exc)
            return failed_batch(exc)
        wanted = [r for r in records if passes_filters(self.mapping, r)]
        if not wanted:
            return failed_batch(None)  # every record filtered out: done, nothing invoked
        return self._invoke(wanted, stop)

    def _checkpoint(self, shard_id: str, sequence_number: str) -> None:
        self.position[shard_id] = sequence_number
        if self.source.context.state is None:
            return
        try:  # on disk: a restart resumes after these records
            self.source.context.state.save(f"esm-position/{self.mapping.uuid}", self.position, durable=False)
        except Exception as exc:  # the records were delivered; a restart would deliver them again
            self.source.fault(self.mapping, "checkpointing the shard", exc)

    def _failed_sequence_numbers(self, batch: list[dict], result):
        """True: the whole batch failed; a list: the partial response's failures; empty: success."""
        if result.status != InvocationStatus.SUCCESS:
            return True
        if not self.mapping.report_batch_item_failures:
            return []
        failed = failed_item_ids(result.result)
        if failed is None:
            return True
        known = {_sequence(r) for r in batch}
        if any(f not in known for f in failed):
            return True  # an identifier that is no record of the batch fails it whole, as on AWS
        return failed

    def _too_old(self, batch: list[dict]) -> bool:
        limit = self.mapping.maximum_record_age_s
        if limit is None or limit < 0 or not batch:
            return False
        oldest = _epoch(batch[0]["dynamodb"].get("ApproximateCreationDateTime")) or time.time()
        return time.time() - oldest > limit

    def _invoke(self, batch: list[dict], stop):
        table = table_of(self.mapping.event_source_arn)
        newest = _epoch(batch[-1]["dynamodb"].get("ApproximateCreationDateTime")) if batch else None
        if newest is not None:  # IteratorAge: how old the batch's last record is as it is sent
            self.source._service.put_metric(
                self.mapping.function_name, "IteratorAge", max(0.0, time.time() - newest) * 1000
            )
        # A stream record carries no trace header (as on AWS): each batch starts a trace at the poller.
        root, read = new_root(), time.time()
        created = [_epoch(r["dynamodb"].get("ApproximateCreationDateTime")) for r in batch]
        created = [c for c in created if c is not None]
        trace_hop(
            self.source.context,
            root,
            "DynamoDB",
            "stream",
            table,
            min(min(created, default=read), read),
            read,
            detail=f"{len(batch)} change(s) read from the stream (creation times are to the second)",
        )
        trace_hop(
            self.source.context,
            root,
            "Lambda",
            "poller batch",
            table,
            read,
            time.time(),
            detail=f"batch of {len(batch)}",
        )
        self._trace = trace_id = new_trace_id(self.mapping.function_name, 1, root=root)
        return self.source.invoke_batch(
            self.mapping,
            batch,
            stop,
            trace_id=trace_id,
            trigger="dynamodb",
            source=SOURCE,
            summary=f"{len(batch)} change(s) to {table}",
            subject={"table": table, "records": len(batch), "mapping": self.mapping.uuid},
            how_detected=f"the mapping's poller read {len(batch)} change(s) of {table} from its stream "
            f"(4 reads a second per shard)",
            how_responded="the poller checkpoints the shard when the function succeeds; a failure blocks "
            "the shard and the batch is retried",
        )

    def _skip(self, shard_id: str, batch: list[dict], condition: str, attempts: int, result) -> None:
        """AWS's on-failure record for a stream batch: where it was, not the records (a bucket also gets
        the invocation payload)."""
        destination = self.mapping.on_failure_destination
        if not destination or not batch:
            return
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        response = {"statusCode": 200, "executedVersion": "$LATEST"}
        if result is not None and result.status != InvocationStatus.SUCCESS:
            response["functionError"] = "Unhandled"
        body = {
            "requestContext": {
                "requestId": getattr(result, "request_id", None) or str(uuid.uuid4()),
                "functionArn": self._function_arn(),
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": now_iso(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
                "batchSize": len(batch),
                "streamArn": self.mapping.event_source_arn,
            },
        }
        try:
            send_batch_record(
                self.source.context.client,
                destination,
                body,
                mapping_uuid=self.mapping.uuid,
                shard_id=shard_id,
                payload=getattr(result, "event", None) or {"Records": batch},  # what the function got
            )
        except Exception as exc:
            self.source._service.put_metric(self.mapping.function_name, "DestinationDeliveryFailures")
            self.source.fault(
                self.mapping, f"sending a skipped batch's on-failure record to {destination}", exc
            )

    def _function_arn(self) -> str:
        runtime = self.source._service.runtime(self.mapping.function_name)
        return runtime.function.arn(self.source.context.region) if runtime else self.mapping.function_name


def _iso(created) -> str | None:
    """A record's arrival as the on-failure record writes it: to the second (``2019-11-14T00:13:19Z``)."""
    if created is None:
        return None
    return datetime.fromtimestamp(_epoch(created), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
