"""SNS topics delivering to their subscriptions, as SNS does.

The endpoint hands over every message a topic accepts, with the topic's subscriptions at that moment
(moto's own delivery is off: only this delivers, once). A router thread serves each subscription whose
filter policy the message passes: a ``lambda`` subscription is an asynchronous invocation (Event) through
the Lambda service, with Lambda's retries and dead-letter queue; an ``sqs`` subscription is a message
sent to the queue, the SNS envelope as its body or, with ``RawMessageDelivery``, the message itself. A
delivery the sandbox fails to make is told, counted on the topic's triggers and retried; other protocols
(HTTP, email, SMS, mobile) are not delivered and are counted and told as such. AWS's semantics and the
sandbox's differences: docs/event-sources.md.
"""

from __future__ import annotations

import json
import queue
import threading
import time

from sandbox.event_sources.base import EventSource, SourceContext
from sandbox.event_sources.sns import filter_policy
from sandbox.event_sources.sns.messages import (
    SOURCE,
    Publication,
    lambda_event,
    sqs_envelope,
    sqs_message_attributes,
)
from sandbox.lambda_.recursion import lineage_depth, new_trace_id

DELIVERY_ATTEMPTS = 3  # the sandbox's own failures to deliver: told, retried 0.5 s apart, then given up
RETRY_DELAY_S = 0.5
SERVED = ("lambda", "sqs")


def describe(event) -> tuple[str, str, dict] | None:
    """What an SNS event is about: its topic and message id."""
    try:
        record = event["Records"][0]
        if record.get("EventSource") != SOURCE:
            return None
        topic_arn, message_id = record["Sns"]["TopicArn"], record["Sns"]["MessageId"]
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return (
        SOURCE,
        f"{topic_arn.rsplit(':', 1)[-1]}: message {message_id}",
        {
            "topic": topic_arn,
            "message_id": message_id,
        },
    )


def _attribute_true(value) -> bool:
    return str(value).lower() == "true"


def _policy(attributes: dict) -> tuple[dict | None, str]:
    text = attributes.get("FilterPolicy")
    policy = json.loads(text) if isinstance(text, str) and text.strip() else (text or None)
    return policy, attributes.get("FilterPolicyScope") or "MessageAttributes"


class SnsEventSource(EventSource):
    name = "sns"
    describe = staticmethod(describe)

    def __init__(self, context: SourceContext):
        self.context = context
        self._publications: queue.Queue = queue.Queue()
        self._router: threading.Thread | None = None
        self._service = None
        self._queue_urls: dict[str, str] = {}
        self.faults: dict[str, int] = {}  # topic ARN -> deliveries the sandbox failed to make (retried)
        self.lost: dict[str, int] = {}  # topic ARN -> deliveries given up after the retries
        self.not_served: dict[str, int] = {}  # subscription ARN -> messages to a protocol not delivered
        self.delivered: dict[str, int] = {}  # subscription ARN -> messages handed on
        self.filtered: dict[str, int] = {}  # subscription ARN -> messages its filter policy kept out
        self._request = threading.local()  # the Publish request being answered: its trace header
        if context.sns_publications is not None:
            context.sns_publications(self._accept)

    def service_middleware(self) -> dict:
        """Around moto's SNS app: the request's X-Amzn-Trace-Id (a function's lineage), for the messages
        the request publishes, so a function publishing to its own topic is stopped as on AWS."""

        def wrap(app):
            def traced(environ, start_response):
                self._request.trace = environ.get("HTTP_X_AMZN_TRACE_ID")
                try:
                    return app(environ, start_response)
                finally:
                    self._request.trace = None

            return traced

        return {"sns": wrap}

    # -- the page and `run_local.py triggers` ------------------------------------------------------------
    def triggers(self) -> list[dict]:
        sns = self.context.client("sns")
        found = []
        for page in sns.get_paginator("list_subscriptions").paginate():
            for sub in page.get("Subscriptions", []):
                arn, protocol, endpoint = sub["SubscriptionArn"], sub["Protocol"], sub["Endpoint"]
                try:
                    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
                except Exception:
                    continue  # unsubscribed meanwhile
                policy, scope = _policy(attributes)
                target = endpoint.split(":")[6] if protocol == "lambda" else endpoint.rsplit(":", 1)[-1]
                details = [f"-> {'function' if protocol == 'lambda' else protocol} {target}"]
                if protocol == "sqs":
                    details.append(
                        "raw delivery"
                        if _attribute_true(attributes.get("RawMessageDelivery"))
                        else "envelope"
                    )
                if policy:
                    on = "body" if scope == "MessageBody" else "attributes"
                    details.append(f"filter policy on {on} {json.dumps(policy, separators=(',', ':'))}")
                counts = [f"{self.delivered.get(arn, 0)} delivered"]
                if self.filtered.get(arn):
                    counts.append(f"{self.filtered[arn]} filtered out")
                details.append(", ".join(counts))
                faults = []
                topic = sub["TopicArn"]
                if self.not_served.get(arn):
                    faults.append(
                        f"{self.not_served[arn]} message(s) not delivered: the sandbox does not deliver "
                        f"to {protocol} subscriptions"
                    )
                if self.faults.get(topic):
                    faults.append(
                        f"{self.faults[topic]} delivery attempt(s) of the topic the sandbox failed to make, "
                        f"then retried; {self.lost.get(topic, 0)} given up (see its output)"
                    )
                found.append(
                    {
                        "kind": "SNS subscription",
                        "source": f"sns:{topic.rsplit(':', 1)[-1]}",
                        "function": target if protocol == "lambda" else None,
                        "detail": "; ".join(details),
                        "state": "Enabled" if protocol in SERVED else "Not delivered by the sandbox",
                        **({"faults": "; ".join(faults)} if faults else {}),
                    }
                )
        return found

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self, service) -> None:
        self._service = service
        self._router = threading.Thread(target=self._route, name="sns-delivery", daemon=True)
        self._router.start()

    def stop(self) -> None:
        self._publications.put(None)

    def _accept(self, fields: dict) -> None:
        """A topic accepted a message (called in the Publish request: only queued here)."""
        trace = getattr(self._request, "trace", None)
        self._publications.put((Publication(**fields, trace_header=trace), 1, frozenset()))

    def _route(self) -> None:
        while True:
            item = self._publications.get()
            if item is None:
                return
            try:
                self._hand_on(*item)
            finally:
                self._publications.task_done()

    def _hand_on(self, publication: Publication, attempt: int, done: frozenset) -> None:
        done = set(done)
        try:
            self._deliver(publication, done)
            return
        except Exception as exc:
            topic = publication.topic_arn
            self.faults[topic] = self.faults.get(topic, 0) + 1
            final = attempt >= DELIVERY_ATTEMPTS
            self.context.report(
                f"sandbox: could not deliver SNS message {publication.message_id} of {topic} "
                f"(attempt {attempt} of {DELIVERY_ATTEMPTS}): {type(exc).__name__}: {exc}"
                + ("" if final else f"; retrying in {RETRY_DELAY_S:g} s")
            )
        if final:
            self._give_up(publication, done)
            return
        retry = threading.Timer(
            RETRY_DELAY_S, self._publications.put, ((publication, attempt + 1, frozenset(done)),)
        )
        retry.daemon = True
        retry.start()

    def _give_up(self, publication: Publication, done: set) -> None:
        """What the retries could not deliver: a function's event goes to its dead-letter queue, as Lambda
        does with an event it cannot process; a queue's message is told lost."""
        for subscription in publication.subscriptions:
            if subscription["arn"] in done or subscription["protocol"] not in SERVED:
                continue
            self.lost[publication.topic_arn] = self.lost.get(publication.topic_arn, 0) + 1
            kept = False
            if subscription["protocol"] == "lambda":
                function_name = subscription["endpoint"].split(":")[6]
                runtime = self._service.runtime(function_name)
                if runtime is not None:
                    record = self._service.new_record(
                        lambda_event(publication, subscription["arn"]), function_name, trigger="sns"
                    )
                    record.error_type = "SandboxError"
                    record.error_message = "the sandbox could not deliver this event"
                    kept = self._service.dead_letters.send(record, runtime.function, "RetriesExhausted")
            if not kept:
                self.context.report(
                    f"sandbox: SNS message {publication.message_id} of {publication.topic_arn} was not "
                    f"delivered to {subscription['endpoint']} and nothing keeps it"
                )

    def _deliver(self, publication: Publication, done: set) -> None:
        for subscription in publication.subscriptions:
            arn, protocol = subscription["arn"], subscription["protocol"]
            if arn in done:
                continue
            attributes = subscription["attributes"]
            policy, scope = _policy(attributes)
            if not filter_policy.matches(policy, scope, publication.message, publication.attributes):
                self.filtered[arn] = self.filtered.get(arn, 0) + 1
                done.add(arn)
                continue
            if protocol == "lambda":
                self._invoke(publication, subscription)
            elif protocol == "sqs":
                self._send(publication, subscription, _attribute_true(attributes.get("RawMessageDelivery")))
            else:
                if not self.not_served.get(arn):
                    self.context.report(
                        f"sandbox: SNS subscription {arn} ({protocol}) gets no messages: the sandbox "
                        f"delivers to lambda and sqs subscriptions only"
                    )
                self.not_served[arn] = self.not_served.get(arn, 0) + 1
                done.add(arn)
                continue
            self.delivered[arn] = self.delivered.get(arn, 0) + 1
            done.add(arn)

    def _invoke(self, publication: Publication, subscription: dict) -> None:
        parts = subscription["endpoint"].split(":")
        function_name = parts[6] if len(parts) > 6 else subscription["endpoint"]
        if self._service.runtime(function_name) is None:
            raise LookupError(f"no function {function_name} (subscription {subscription['arn']})")
        topic_name = publication.topic_arn.rsplit(":", 1)[-1]
        depth = lineage_depth(publication.trace_header) + 1
        record = self._service.new_record(
            lambda_event(publication, subscription["arn"]),
            function_name,
            trigger="sns",
            trace_id=new_trace_id(function_name, depth),
            source=SOURCE,
            summary=f"{topic_name}: message {publication.message_id}",
            subject={"topic": publication.topic_arn, "message_id": publication.message_id},
            how_detected=f"SNS topic {topic_name} accepted message {publication.message_id} and sent it "
            f"to its Lambda subscription",
            how_responded="SNS invokes asynchronously: it does not wait; Lambda keeps the result, retries "
            "failures twice, then sends the event to the dead-letter queue",
        )
        self._service.submit(record, chain_depth=depth)

    def _queue_url(self, queue_arn: str) -> str:
        url = self._queue_urls.get(queue_arn)
        if url is None:
            parts = queue_arn.split(":")
            sqs = self.context.client("sqs")
            url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            self._queue_urls[queue_arn] = url
        return url

    def _send(self, publication: Publication, subscription: dict, raw: bool) -> None:
        request = {"QueueUrl": self._queue_url(subscription["endpoint"])}
        if raw:
            request["MessageBody"] = publication.message_for("sqs")
            if publication.attributes:
                request["MessageAttributes"] = sqs_message_attributes(publication)
        else:
            request["MessageBody"] = sqs_envelope(publication, subscription["arn"])
        if subscription["endpoint"].endswith(".fifo"):
            request["MessageGroupId"] = publication.group_id or "default"
            request["MessageDeduplicationId"] = publication.deduplication_id or publication.message_id
        try:
            self.context.client("sqs").send_message(**request)
        except Exception:
            self._queue_urls.pop(subscription["endpoint"], None)  # a queue made again has a new URL
            raise

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once every accepted message has been handed on (tests, benches)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._publications.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False
