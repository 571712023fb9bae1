"""Event source mappings: what ``aws lambda create-event-source-mapping`` configures, shared by the
polled event sources (SQS queues, DynamoDB streams).

On AWS a mapping is Lambda's own poller: it reads the queue or stream, batches records (``BatchSize``,
``MaximumBatchingWindowInSeconds``), drops those that match no ``FilterCriteria`` pattern, and invokes the
function synchronously with the batch. What happens on failure belongs to each source (a queue's
visibility timeout and redrive policy; a stream shard that blocks until the batch succeeds, expires or
runs out of retries). moto stores the mappings and answers the API; the sandbox runs them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

DEFAULT_BATCH_SIZE = {"sqs": 10, "dynamodb": 100}
THROTTLED_WAIT_S = 0.05
MAX_BATCH_SIZE = {"sqs": 10_000, "sqs-fifo": 10, "dynamodb": 10_000}


@dataclass
class MappingConfig:
    """One mapping, as ``get-event-source-mapping`` describes it."""

    uuid: str
    function_name: str
    event_source_arn: str
    batch_size: int
    batching_window_s: float = 0.0
    enabled: bool = True
    starting_position: str | None = None  # streams: TRIM_HORIZON | LATEST
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1  # streams: -1 = until the record expires
    maximum_record_age_s: int = -1
    on_failure_destination: str | None = None  # streams: an SQS queue, SNS topic or S3 bucket ARN
    report_batch_item_failures: bool = False
    filters: list[dict] = field(default_factory=list)  # FilterCriteria patterns, parsed

    @property
    def source_service(self) -> str:
        return self.event_source_arn.split(":")[2] if self.event_source_arn.count(":") >= 5 else ""

    @classmethod
    def from_api(cls, data: dict, function_name: str) -> MappingConfig:
        service = data.get("EventSourceArn", "").split(":")[2] if data.get("EventSourceArn") else ""
        destination = ((data.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        patterns = []
        for item in (data.get("FilterCriteria") or {}).get("Filters") or []:
            try:
                patterns.append(json.loads(item.get("Pattern") or "{}"))
            except ValueError:
                pass  # refused when the mapping was created (validate_filters)
        state = data.get("State", "Enabled")
        return cls(
            uuid=data["UUID"],
            function_name=function_name,
            event_source_arn=data["EventSourceArn"],
            batch_size=int(data.get("BatchSize") or DEFAULT_BATCH_SIZE.get(service, 10)),
            batching_window_s=float(data.get("MaximumBatchingWindowInSeconds") or 0),
            enabled=state not in ("Disabled", "Disabling") and data.get("Enabled", True) is not False,
            starting_position=data.get("StartingPosition"),
            bisect_on_error=bool(data.get("BisectBatchOnFunctionError")),
            maximum_retry_attempts=int(data["MaximumRetryAttempts"])
            if data.get("MaximumRetryAttempts") is not None
            else -1,
            maximum_record_age_s=int(data["MaximumRecordAgeInSeconds"])
            if data.get("MaximumRecordAgeInSeconds") is not None
            else -1,
            on_failure_destination=destination or None,
            report_batch_item_failures="ReportBatchItemFailures" in (data.get("FunctionResponseTypes") or []),
            filters=patterns,
        )


def mapping_trigger(mapping: MappingConfig, kind: str, last_result: str | None, faults: int = 0) -> dict:
    """A mapping as the page and `run_local.py triggers` list it; ``faults``: batches the sandbox itself
    failed to build, send or checkpoint (each handled as a failed batch, and told on the terminal)."""
    details = [f"batch {mapping.batch_size}"]
    if mapping.batching_window_s:
        details.append(f"window {mapping.batching_window_s:g} s")
    if mapping.starting_position:
        details.append(mapping.starting_position)
    if mapping.filters:
        details.append(f"{len(mapping.filters)} filter(s)")
    if mapping.report_batch_item_failures:
        details.append("ReportBatchItemFailures")
    if mapping.on_failure_destination:
        details.append(f"on failure → {mapping.on_failure_destination}")
    return {
        "kind": kind,
        "source": mapping.event_source_arn,
        "function": mapping.function_name,
        "detail": ", ".join(details),
        "state": "Enabled" if mapping.enabled else "Disabled",
        "last_result": last_result or "No records processed",
        "uuid": mapping.uuid,
        **({"faults": f"{faults} batch(es) the sandbox failed to handle (see its output)"} if faults else {}),
    }


def validate_filters(request: dict) -> str | None:
    """Lambda refuses a FilterCriteria pattern that is not a JSON object."""
    for item in (request.get("FilterCriteria") or {}).get("Filters") or []:
        try:
            pattern = json.loads(item.get("Pattern") or "")
        except ValueError:
            pattern = None
        if not isinstance(pattern, dict):
            return f"Invalid filter pattern definition: {item.get('Pattern')!r} is not a JSON object."
    return None


# -- event filtering (the EventBridge pattern syntax Lambda uses for FilterCriteria) ---------------------
def matches(pattern: dict, record: dict) -> bool:
    """True when the record matches the pattern: every key of the pattern must match (AND); a list of
    values matches any of them (OR); nested objects match nested fields. Supports exact values, ``null``,
    ``prefix``, ``suffix``, ``anything-but``, ``numeric``, ``exists`` and ``equals-ignore-case``."""
    for key, expected in pattern.items():
        present = isinstance(record, dict) and key in record
        value = record.get(key) if isinstance(record, dict) else None
        if isinstance(expected, dict):
            if not present or not matches(expected, value):
                return False
        elif isinstance(expected, list):
            if not any(_matches_value(rule, value, present) for rule in expected):
                return False
        else:
            return False  # a pattern's leaves are lists, as Lambda requires
    return True


def _matches_value(rule: Any, value: Any, present: bool) -> bool:
    values = value if isinstance(value, list) else [value]
    if not isinstance(rule, dict):
        return present and any(v == rule for v in values)
    if "exists" in rule:
        return present == bool(rule["exists"])
    if not present:
        return False
    if "prefix" in rule:
        return any(isinstance(v, str) and v.startswith(rule["prefix"]) for v in values)
    if "suffix" in rule:
        return any(isinstance(v, str) and v.endswith(rule["suffix"]) for v in values)
    if "equals-ignore-case" in rule:
        return any(
            isinstance(v, str) and v.lower() == str(rule["equals-ignore-case"]).lower() for v in values
        )
    if "anything-but" in rule:
        excluded = rule["anything-but"]
        excluded = excluded if isinstance(excluded, list) else [excluded]
        return all(v not in excluded for v in values)
    if "numeric" in rule:
        return any(_numeric(rule["numeric"], v) for v in values)
    return False


def _numeric(conditions: list, value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    checks = {
        "=": number.__eq__,
        "<": number.__lt__,
        "<=": number.__le__,
        ">": number.__gt__,
        ">=": number.__ge__,
    }
    return all(checks[op](float(bound)) for op, bound in zip(conditions[::2], conditions[1::2]))


def passes_filters(mapping: MappingConfig, record: dict, body_as_json: bool = False) -> bool:
    """No patterns: every record passes. For SQS, a JSON body is matched as an object (``body``)."""
    if not mapping.filters:
        return True
    candidate = record
    if body_as_json:
        try:
            candidate = {**record, "body": json.loads(record.get("body", ""))}
        except ValueError:
            pass
    return any(matches(pattern, candidate) for pattern in mapping.filters)


def failed_item_ids(result: Any) -> list[str] | None:
    """A partial batch response's failed identifiers; None when the response says the whole batch
    failed (AWS: an empty or malformed itemIdentifier fails the whole batch)."""
    if not isinstance(result, dict) or "batchItemFailures" not in result:
        return []
    failures = result["batchItemFailures"]
    if failures is None:
        return []
    if not isinstance(failures, list):
        return None
    ids = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return None
        ids.append(identifier)
    return ids


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PolledEventSource:
    """What the polled event sources (SQS, DynamoDB streams) share: a poller per mapping, AWS's last
    processing result per mapping, their place among the triggers. A subclass names its ``trigger_kind``
    and implements ``accepts``, ``validate`` and ``apply`` (see LambdaService.add_mapping_runner)."""

    trigger_kind = ""

    def __init__(self, context):
        self.context = context
        self._pollers: dict[str, PollerThread] = {}
        self.last_results: dict[str, str] = {}  # mapping uuid -> AWS's LastProcessingResult
        self.faults: dict[str, int] = {}  # mapping uuid -> failures of the sandbox's own path
        self._service = None

    def service_middleware(self) -> dict:
        return {}

    def start(self, service) -> None:
        self._service = service
        service.add_mapping_runner(self)

    def stop(self) -> None:
        pollers = list(self._pollers.values())
        self._pollers.clear()
        for poller in pollers:  # every poller told first, so stopping takes one long poll, not one each
            poller.stop(wait=0)
        for poller in pollers:
            poller.stop()

    def remove(self, uuid: str) -> None:
        poller = self._pollers.pop(uuid, None)
        if poller is not None:
            poller.stop()

    def triggers(self) -> list[dict]:
        return [
            mapping_trigger(m, self.trigger_kind, self.last_results.get(m.uuid), self.faults.get(m.uuid, 0))
            for m in self._service.mappings()
            if self.accepts(m.event_source_arn)
        ]

    def fault(self, mapping: MappingConfig, what: str, exc: BaseException) -> None:
        """The sandbox's own path failed (building, sending or checkpointing a batch): told on the terminal
        and counted on the mapping; the caller handles the batch as AWS handles a failed one."""
        self.faults[mapping.uuid] = self.faults.get(mapping.uuid, 0) + 1
        self.last_results[mapping.uuid] = f"PROBLEM: the sandbox failed while {what}"
        self.context.report(
            f"sandbox: mapping {mapping.uuid} ({mapping.event_source_arn}) failed while "
            f"{what}: {type(exc).__name__}: {exc}; the batch is handled as a failed batch"
        )

    def invoke_batch(self, mapping: MappingConfig, records: list[dict], stop, **record_fields):
        """Invoke the mapping's function synchronously with one batch, as Lambda's poller does: while
        every environment is busy the batch waits (AWS's pollers back off; the records stay in flight).
        Returns the invocation record, or None when the poller is stopping. Keeps AWS's
        LastProcessingResult for the mapping."""
        from sandbox.lambda_.environment_pool import Throttled
        from sandbox.lambda_.invocation import InvocationStatus

        while not stop.is_set():
            record = None
            try:
                record = self._service.new_record(
                    {"Records": records}, mapping.function_name, **record_fields
                )
                result = self._service.run(record)
            except Throttled:
                stop.wait(THROTTLED_WAIT_S)
                continue
            except Exception as exc:  # the sandbox's own path: a failed batch, never a lost one
                self.fault(mapping, "sending a batch to the function", exc)
                failed = failed_batch(exc, record)
                if record is not None:
                    self._service.records.changed(record)  # not left "running" on the page
                return failed
            self.last_results[mapping.uuid] = (
                "OK" if result.status == InvocationStatus.SUCCESS else "PROBLEM: Function call failed"
            )
            return result
        return None


def failed_batch(exc: BaseException | None, record=None):
    """A batch the sandbox could not hand to the function, as a failed invocation (``exc`` None: a batch
    with nothing to invoke, as a successful one)."""
    from types import SimpleNamespace

    from sandbox.lambda_.invocation import InvocationStatus

    if record is None:
        return SimpleNamespace(
            status=InvocationStatus.SUCCESS if exc is None else InvocationStatus.ERROR,
            result=None,
            request_id=None,
        )
    record.status, record.error_type, record.error_message = InvocationStatus.ERROR, "SandboxError", str(exc)
    record.final = True
    return record


class PollerThread:
    """A mapping's poller: one daemon thread running ``poll_once`` until stopped or disabled."""

    def __init__(
        self,
        name: str,
        poll_once: Callable[[threading.Event], None],
        on_error: Callable[[Exception], None] | None = None,
    ):
        self._stop = threading.Event()
        self._poll_once = poll_once
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> PollerThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once(self._stop)
            except Exception as exc:  # a poller survives anything; the endpoint may be stopping
                if self._stop.wait(0.5):
                    return
                self.last_error = exc
                if self._on_error is not None:
                    self._on_error(exc)

    def stop(self, wait: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(wait)
