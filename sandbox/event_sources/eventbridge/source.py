"""EventBridge buses delivering the events put on them to the targets of the rules they match.

Around moto's EventBridge API, each PutEvents entry the bus accepts (an EventId in the answer) becomes
the event AWS delivers (version, id, detail-type, source, account, time, region, resources, detail) and
is queued; a router thread reads the bus's enabled rules that have an ``EventPattern`` and sends each
matching rule's targets what ``Input``/``InputPath``/``InputTransformer`` make of it (moto's own delivery
to Lambda and SQS targets is off: only this delivers, once). A Lambda target is an asynchronous
invocation (Event) through the Lambda service, with Lambda's retries and dead-letter queue; an SQS target
gets the payload as the message body. A delivery that fails (no such function or queue) is told, counted
on the rule's triggers and retried as the target's ``RetryPolicy`` allows (at most ``DELIVERY_RETRIES``
times, ``RETRY_DELAY_S`` apart), then sent to its ``DeadLetterConfig`` queue. AWS's semantics and the
sandbox's differences: docs/triggers.md.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field

from sandbox.event_sources.base import EventSource, SourceContext
from sandbox.event_sources.eventbridge import patterns
from sandbox.event_sources.schedules.targets import lambda_function_name, sqs_queue, target_payload

DELIVERY_RETRIES = 2  # at most this many retries of a failed delivery (AWS: RetryPolicy, default 185)
RETRY_DELAY_S = 0.5
MAX_EVENT_AGE_S = 86400  # RetryPolicy's MaximumEventAgeInSeconds default
TRIGGER = "eventbridge"
_READS = ("List", "Describe", "Test")  # operations that change no rule, target or bus


def iso_time(at: float) -> str:
    return dt.datetime.fromtimestamp(int(at), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def bus_event(entry: dict, event_id: str, region: str, account: str, now: float) -> dict:
    """The event EventBridge delivers for one PutEvents entry (its Detail is JSON text of an object)."""
    at = entry.get("Time")
    if isinstance(at, str):
        try:
            at = dt.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
        except ValueError:
            at = None
    detail = entry.get("Detail") or "{}"
    return {
        "version": "0",
        "id": event_id,
        "detail-type": entry.get("DetailType", ""),
        "source": entry.get("Source", ""),
        "account": account,
        "time": iso_time(at if isinstance(at, int | float) else now),
        "region": region,
        "resources": list(entry.get("Resources") or []),
        "detail": json.loads(detail) if isinstance(detail, str) else detail,
    }


def served(target: dict) -> bool:
    """Whether the sandbox delivers to ``target``: a function, a queue or an SNS topic."""
    arn = target.get("Arn", "")
    return lambda_function_name(arn) is not None or sqs_queue(arn) is not None or _topic(arn)


def _topic(arn: str) -> bool:
    return arn.split(":")[2:3] == ["sns"]


def sample_event(source: str, detail_type: str, detail: str, region: str, account: str) -> dict:
    """The event a rule's target gets for one PutEvents entry, as ``run_local.py generate-event
    eventbridge`` prints it; ``detail``: JSON text of an object."""
    try:
        parsed = json.loads(detail)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        from sandbox.errors import SandboxError

        raise SandboxError(f"--detail takes the JSON text of an object, as PutEvents does; got {detail!r}.")
    entry = {"Source": source, "DetailType": detail_type, "Detail": detail}
    return bus_event(entry, str(uuid.uuid4()), region, account, time.time())


def describe(event) -> tuple[str, str, dict] | None:
    """What an EventBridge event is about: its source, detail-type and id."""
    if not isinstance(event, dict) or not {"detail-type", "source", "id", "detail"} <= set(event):
        return None
    if event.get("detail-type") == "Scheduled Event":
        return None  # the schedules' own
    return (
        TRIGGER,
        f"{event['source']}: {event['detail-type']} {event['id']}",
        {"source": event["source"], "detail_type": event["detail-type"], "id": event["id"]},
    )


@dataclass
class Accepted:
    """An event a bus accepted, on its way to the rules' targets."""

    bus: str  # name
    event: dict
    accepted_at: float = field(default_factory=time.time)


class EventBridgeSource(EventSource):
    name = "eventbridge"
    describe = staticmethod(describe)

    def __init__(self, context: SourceContext):
        self.context = context
        self._events: queue.Queue = queue.Queue()
        self._service = None
        self.matched: dict[str, int] = {}  # rule ARN -> events it matched
        self.delivered: dict[tuple, int] = {}  # (rule ARN, target id) -> events handed on
        self.faults: dict[str, int] = {}  # rule ARN -> deliveries the sandbox failed to make (retried)
        self.dead_lettered: dict[str, int] = {}  # rule ARN -> events sent to a target's DLQ
        self.lost: dict[str, int] = {}  # rule ARN -> events given up with no DLQ to keep them
        self.unreadable: dict[str, str] = {}  # rule ARN -> why its pattern could not be read
        self._rules: dict[str, list] = {}  # bus -> its pattern rules with their targets (read once)
        self._rules_generation = 0
        self._rules_lock = threading.Lock()
        self._queue_urls: dict[str, str] = {}
        self.not_served: dict[tuple, int] = {}  # (rule ARN, target id) -> events for a target not delivered
        if context.s3_eventbridge is not None:
            context.s3_eventbridge(self._accept_s3)

    # -- around moto's EventBridge API --------------------------------------------------------------------
    def service_middleware(self) -> dict:
        def wrap(app):
            def observed(environ, start_response):
                target = environ.get("HTTP_X_AMZ_TARGET", "")
                operation = target.rsplit(".", 1)[-1]
                if operation not in ("PutEvents", "PutRule", "TestEventPattern"):
                    if not operation.startswith(_READS):
                        self._forget_rules()  # a rule, a target or a bus changed: read them again
                    return app(environ, start_response)
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = environ["wsgi.input"].read(length) if length else b""
                environ["wsgi.input"] = io.BytesIO(body)
                if operation != "PutEvents":
                    answer = self._pattern_request(operation, body)
                    if answer is None:
                        if operation == "PutRule":
                            self._forget_rules()
                        return app(environ, start_response)
                    code, payload = answer
                    start_response(code, [("Content-Type", "application/x-amz-json-1.1")])
                    return [json.dumps(payload).encode()]
                status = []

                def start(code, headers, exc_info=None):
                    status.append(code)
                    return start_response(code, headers, exc_info)

                answer = b"".join(app(environ, start))
                if status and status[0].startswith("200"):
                    self._accept(body, answer)
                return [answer]

            return observed

        return {"events": wrap}

    @staticmethod
    def _pattern_request(operation: str, body: bytes) -> tuple[str, dict] | None:
        """PutRule and TestEventPattern read the pattern as EventBridge does: a pattern it refuses gets
        InvalidEventPatternException; TestEventPattern answers with the sandbox's matcher (the one that
        delivers). None: moto answers."""
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return None
        if not isinstance(request, dict) or not request.get("EventPattern"):
            return None
        try:
            pattern = patterns.load(request["EventPattern"])
        except patterns.InvalidEventPattern as exc:
            return "400 Bad Request", {
                "__type": "InvalidEventPatternException",
                "message": f"Event pattern is not valid. Reason: {exc}",
            }
        if operation != "TestEventPattern":
            return None
        try:
            event = json.loads(request.get("Event") or "")
            if not isinstance(event, dict):
                raise ValueError
        except ValueError:
            return "400 Bad Request", {
                "__type": "InvalidEventPatternException",
                "message": "Event is not valid.",
            }
        return "200 OK", {"Result": patterns.matches(pattern, event)}

    def _accept(self, request: bytes, answer: bytes) -> None:
        try:
            entries = json.loads(request).get("Entries") or []
            results = json.loads(answer).get("Entries") or []
        except ValueError as exc:
            self.context.report(f"sandbox: a PutEvents request could not be read for delivery: {exc}")
            return
        now = time.time()
        for entry, result in zip(entries, results, strict=False):
            event_id = result.get("EventId")
            if not event_id:
                continue
            bus = (entry.get("EventBusName") or "default").rsplit("/", 1)[-1]
            account = self.context_account()
            try:
                event = bus_event(entry, event_id, self.context.region, account, now)
            except (ValueError, TypeError) as exc:  # accepted by moto, unreadable here: told, not dropped
                self.context.report(f"sandbox: event {event_id} on bus {bus} cannot be delivered: {exc}")
                continue
            self.put(bus, event)

    def _accept_s3(self, facts: dict) -> None:
        """An object event of a bucket that sends its events to EventBridge (in the S3 request: quick)."""
        from sandbox.event_sources.eventbridge.s3_events import s3_event

        try:
            event = s3_event(facts, requester=facts.get("account") or self.context_account())
        except Exception as exc:
            self.context.report(f"sandbox: could not make the EventBridge event of an S3 write: {exc}")
            return
        if event is not None:
            self.put("default", event)

    def context_account(self) -> str:
        from sandbox.config import ACCOUNT_ID

        return ACCOUNT_ID

    def put(self, bus: str, event: dict) -> None:
        """Queue ``event`` on ``bus`` for the rules' targets (PutEvents; S3's EventBridge notifications)."""
        self._events.put((Accepted(bus, event), None, 1))

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self, service) -> None:
        self._service = service
        threading.Thread(target=self._route, name="eventbridge-delivery", daemon=True).start()

    def stop(self) -> None:
        self._events.put(None)

    def _route(self) -> None:
        while True:
            item = self._events.get()
            if item is None:
                return
            try:
                accepted, only, attempt = item
                if only is None:
                    self._match(accepted)
                else:
                    self._send(accepted, *only, attempt)
            except Exception as exc:
                self.context.report(f"sandbox: EventBridge delivery failed: {type(exc).__name__}: {exc}")
            finally:
                self._events.task_done()

    def _forget_rules(self) -> None:
        with self._rules_lock:
            self._rules.clear()
            self._rules_generation += 1

    def rules(self, bus: str) -> list[tuple[dict, list[dict]]]:
        """The bus's rules that have an event pattern, with their targets: read through the API once, then
        kept until a request changes rules, targets or buses."""
        with self._rules_lock:
            if bus in self._rules:
                return self._rules[bus]
            generation = self._rules_generation
        found = self._read_rules(bus)
        with self._rules_lock:
            if generation == self._rules_generation:
                self._rules[bus] = found
        return found

    def _read_rules(self, bus: str) -> list[tuple[dict, list[dict]]]:
        events = self.context.client("events")
        found = []
        for page in events.get_paginator("list_rules").paginate(EventBusName=bus):
            for rule in page["Rules"]:
                if not rule.get("EventPattern"):
                    continue
                targets = [
                    t
                    for p in events.get_paginator("list_targets_by_rule").paginate(
                        Rule=rule["Name"], EventBusName=bus
                    )
                    for t in p["Targets"]
                ]
                found.append((rule, targets))
        return found

    def _match(self, accepted: Accepted) -> None:
        for rule, targets in self.rules(accepted.bus):
            if not rule.get("State", "ENABLED").startswith("ENABLED"):
                continue
            arn = rule["Arn"]
            try:
                matched = patterns.matches(patterns.load(rule["EventPattern"]), accepted.event)
            except Exception as exc:  # a pattern stored before PutRule checked it (a kept state)
                self.faults[arn] = self.faults.get(arn, 0) + 1
                if arn not in self.unreadable:
                    self.context.report(
                        f"sandbox: rule {rule['Name']}'s event pattern matches nothing: {exc}"
                    )
                self.unreadable[arn] = str(exc)
                continue
            if not matched:
                continue
            self.matched[arn] = self.matched.get(arn, 0) + 1
            for target in targets:
                if served(target):
                    self._send(accepted, rule, target, 1)
                    continue
                key = (arn, target.get("Id"))
                if not self.not_served.get(key):
                    self.context.report(
                        f"sandbox: rule {rule['Name']}'s target {target.get('Arn')} gets no events: the "
                        f"sandbox delivers to Lambda functions, SQS queues and SNS topics only"
                    )
                self.not_served[key] = self.not_served.get(key, 0) + 1

    def _send(self, accepted: Accepted, rule: dict, target: dict, attempt: int) -> None:
        arn = rule["Arn"]
        try:
            payload = target_payload(target, accepted.event, rule["Name"], arn)
            self._deliver(accepted, rule, target, payload)
            key = (arn, target.get("Id"))
            self.delivered[key] = self.delivered.get(key, 0) + 1
            return
        except Exception as exc:
            self.faults[arn] = self.faults.get(arn, 0) + 1
            policy = target.get("RetryPolicy") or {}
            retries = min(int(policy.get("MaximumRetryAttempts", 185)), DELIVERY_RETRIES)
            age_limit = int(policy.get("MaximumEventAgeInSeconds", MAX_EVENT_AGE_S))
            aged = time.time() - accepted.accepted_at + RETRY_DELAY_S > age_limit
            final = attempt > retries or aged
            self.context.report(
                f"sandbox: rule {rule['Name']} could not deliver event {accepted.event['id']} to "
                f"{target.get('Arn')} (attempt {attempt} of {retries + 1}): {type(exc).__name__}: {exc}"
                + ("" if final else f"; retrying in {RETRY_DELAY_S:g} s")
            )
            if final:
                condition = "MaximumEventAgeInSeconds" if aged else "MaximumRetryAttempts"
                self._dead_letter(accepted, rule, target, attempt, exc, condition)
                return
        retry = threading.Timer(RETRY_DELAY_S, self._events.put, ((accepted, (rule, target), attempt + 1),))
        retry.daemon = True
        retry.start()

    def _deliver(self, accepted: Accepted, rule: dict, target: dict, payload) -> None:
        function = lambda_function_name(target.get("Arn", ""))
        event = accepted.event
        if function is not None:
            if self._service.runtime(function) is None:
                raise LookupError(f"no function {function}")
            record = self._service.new_record(
                payload,
                function,
                trigger=TRIGGER,
                source=TRIGGER,
                summary=f"{rule['Name']}: {event['detail-type']} from {event['source']}",
                subject={"rule": rule["Arn"], "bus": accepted.bus, "id": event["id"]},
                how_detected=f"event {event['id']} on bus {accepted.bus} matched rule {rule['Name']}",
                how_responded="EventBridge invokes asynchronously: it does not wait; Lambda keeps the "
                "result, retries failures twice, then sends the event to the dead-letter queue",
            )
            self._service.submit(record)
            return
        queue_name = sqs_queue(target.get("Arn", ""))
        if queue_name is not None:
            sqs = self.context.client("sqs")
            url = self._queue_urls.get(target["Arn"])
            if url is None:
                url = sqs.get_queue_url(QueueName=queue_name[0], QueueOwnerAWSAccountId=queue_name[1])[
                    "QueueUrl"
                ]
                self._queue_urls[target["Arn"]] = url
            body = payload if isinstance(payload, str) else json.dumps(payload)
            parameters = target.get("SqsParameters") or {}
            extra = {}
            if queue_name[0].endswith(".fifo"):
                extra = {
                    "MessageGroupId": parameters.get("MessageGroupId") or "default",
                    "MessageDeduplicationId": event["id"],
                }
            try:
                sqs.send_message(QueueUrl=url, MessageBody=body, **extra)
            except Exception:
                self._queue_urls.pop(target["Arn"], None)  # a queue made again has a new URL
                raise
            return
        if _topic(target.get("Arn", "")):  # published: the sandbox's SNS delivery takes it on
            body = payload if isinstance(payload, str) else json.dumps(payload)
            self.context.client("sns").publish(TopicArn=target["Arn"], Message=body)
            return
        raise NotImplementedError("the sandbox delivers to Lambda functions, SQS queues and SNS topics only")

    def _dead_letter(
        self, accepted: Accepted, rule: dict, target: dict, attempts: int, exc: Exception, condition: str
    ) -> None:
        """The undelivered event to the target's dead-letter queue with EventBridge's message attributes;
        counted and told when the target has none (AWS drops it)."""
        arn = rule["Arn"]
        dlq = sqs_queue(((target.get("DeadLetterConfig") or {}).get("Arn")) or "")
        if dlq is None:
            self.lost[arn] = self.lost.get(arn, 0) + 1
            self.context.report(
                f"sandbox: rule {rule['Name']}'s event {accepted.event['id']} for {target.get('Arn')} was "
                f"not delivered and the target has no DeadLetterConfig to keep it (AWS drops it too)"
            )
            return
        attributes = {
            "RULE_ARN": arn,
            "TARGET_ARN": target.get("Arn", ""),
            "ERROR_CODE": "SandboxError" if not isinstance(exc, LookupError) else "ResourceNotFoundException",
            "ERROR_MESSAGE": str(exc)[:1000] or type(exc).__name__,
            "EXHAUSTED_RETRY_CONDITION": condition,
            "RETRY_ATTEMPTS": str(attempts - 1),
        }
        try:
            sqs = self.context.client("sqs")
            url = sqs.get_queue_url(QueueName=dlq[0], QueueOwnerAWSAccountId=dlq[1])["QueueUrl"]
            sqs.send_message(
                QueueUrl=url,
                MessageBody=json.dumps(accepted.event),
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value or "-"}
                    for name, value in attributes.items()
                },
            )
            self.dead_lettered[arn] = self.dead_lettered.get(arn, 0) + 1
        except Exception as error:
            self.lost[arn] = self.lost.get(arn, 0) + 1
            self.context.report(
                f"sandbox: rule {rule['Name']}'s undelivered event could not reach its dead-letter queue "
                f"{dlq[0]}: {error}"
            )

    # -- the page and `run_local.py triggers` --------------------------------------------------------
    def triggers(self) -> list[dict]:
        events = self.context.client("events")
        found = []
        buses = [b["Name"] for b in events.list_event_buses().get("EventBuses", [])] or ["default"]
        for bus in buses:
            for rule, targets in self.rules(bus):
                arn = rule["Arn"]
                faults = []
                if self.unreadable.get(arn):
                    faults.append(f"pattern matches nothing: {self.unreadable[arn]}")
                if self.faults.get(arn):
                    faults.append(
                        f"{self.faults[arn]} delivery attempt(s) failed, then retried; "
                        f"{self.dead_lettered.get(arn, 0)} sent to a dead-letter queue, "
                        f"{self.lost.get(arn, 0)} lost (see the output)"
                    )
                for target in targets:
                    function = lambda_function_name(target.get("Arn", ""))
                    queue_name = sqs_queue(target.get("Arn", ""))
                    to = (
                        f"function {function}"
                        if function
                        else (
                            f"queue {queue_name[0]}"
                            if queue_name
                            else target.get("Arn", "").split(":", 2)[-1]
                        )
                    )
                    not_served = self.not_served.get((arn, target.get("Id")), 0)
                    target_faults = faults + (
                        [f"{not_served} event(s) not delivered: the sandbox does not deliver to this target"]
                        if not_served
                        else []
                    )
                    delivered = self.delivered.get((arn, target.get("Id")), 0)
                    found.append(
                        {
                            "kind": "EventBridge rule",
                            "source": f"eventbridge:{bus}/{rule['Name']}",
                            "function": function,
                            "detail": f"-> {to}; pattern {rule['EventPattern']}; "
                            f"{self.matched.get(arn, 0)} matched, {delivered} delivered",
                            "state": rule.get("State", "ENABLED").split("_")[0].capitalize()
                            if served(target)
                            else "Not delivered by the sandbox",
                            **({"faults": "; ".join(target_faults)} if target_faults else {}),
                        }
                    )
        return found

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once every accepted event has been handed on (tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._events.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False
