"""S3 event notifications, as S3 delivers them to Lambda.

S3 invokes Lambda asynchronously, one record per object, for every completed write (Put, Post, Copy,
CompleteMultipartUpload, Delete) that matches a bucket's ``LambdaFunctionConfigurations`` (events and
prefix/suffix filters). The write observer sees writes as moto routes them; a router thread turns each
into the event AWS sends and submits it to the Lambda service, with the chain depth its trace header
carries (recursive loop detection). AWS's semantics: docs/event-sources.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import queue
import threading
import time
import uuid
from urllib.parse import unquote_plus

from sandbox.event_sources.base import EventSource, SourceContext, trace_hop
from sandbox.event_sources.s3.events import S3Write, build_event
from sandbox.event_sources.s3.key_limits import S3KeyLimits
from sandbox.event_sources.s3.notifications import (
    BucketNotifications,
    LambdaTarget,
    QueueTarget,
    TopicTarget,
)
from sandbox.event_sources.s3.write_observer import S3WriteObserver
from sandbox.lambda_.recursion import lineage_depth, new_trace_id
from sandbox.telemetry.traces import new_root, trace_root

FORGET_EVERY_S = 1.0  # how long a handed-on write's entry may stay in the state directory
# The sandbox's own failures to deliver an event are retried. AWS: S3 retries its delivery to Lambda and
# Lambda retries an event twice; here every attempt is 0.5 s apart, and the third failure dead-letters it.
DELIVERY_ATTEMPTS = 3
RETRY_DELAY_S = 0.5

SOURCE = "aws:s3"
# The API call behind each event name, as a trace shows the write.
WRITE_OPERATIONS = {
    "ObjectCreated:Put": "PutObject",
    "ObjectCreated:Post": "PostObject",
    "ObjectCreated:Copy": "CopyObject",
    "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "ObjectRemoved:Delete": "DeleteObject",
    "ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
}


def describe(event) -> tuple[str, str, dict] | None:
    """What an S3 event is about: its first record's bucket and decoded key."""
    try:
        record = event["Records"][0]
        if record.get("eventSource") != SOURCE:
            return None
        bucket, key = record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"])
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return SOURCE, f"s3://{bucket}/{key}", {"bucket": bucket, "key": key}


class S3EventSource(EventSource):
    name = "s3"
    describe = staticmethod(describe)

    def __init__(self, context: SourceContext):
        self.context = context
        self.notifications = BucketNotifications(
            context.bucket_notifications
            or (lambda bucket: context.client("s3").get_bucket_notification_configuration(Bucket=bucket))
        )
        self._writes: queue.Queue[S3Write | None] = queue.Queue()
        self._router: threading.Thread | None = None
        self._service = None
        self.faults: dict[str, int] = {}  # bucket -> events the sandbox failed to deliver (then retried)

    def service_middleware(self) -> dict:
        """The write observer wraps moto's S3 app, so it sees only requests moto routed to S3; S3's key
        limit wraps the observer, so a refused key is never seen as a write."""
        return {
            "s3": lambda app: S3KeyLimits(
                S3WriteObserver(
                    app,
                    on_write=self._accept,
                    object_facts=self.context.object_facts,
                    on_notification_change=self.notifications.invalidate,
                )
            )
        }

    def triggers(self) -> list[dict]:
        """Every bucket's notification configuration, as the page and `run_local.py triggers` list it."""
        s3 = self.context.client("s3")
        found = []
        for bucket in s3.list_buckets().get("Buckets", []):
            for target in self.notifications.targets(bucket["Name"]):
                what = {LambdaTarget: "function", QueueTarget: "queue", TopicTarget: "topic"}[type(target)]
                filters = " ".join(
                    f
                    for f in (
                        f"prefix {target.prefix!r}" if target.prefix else "",
                        f"suffix {target.suffix!r}" if target.suffix else "",
                    )
                    if f
                )
                found.append(
                    {
                        "kind": "S3 notification",
                        "source": f"s3://{bucket['Name']}",
                        "function": getattr(target, "function_name", None),
                        "detail": f"{', '.join(target.events)} -> {what} {target.arn.rsplit(':', 1)[-1]}"
                        + (f" ({filters})" if filters else ""),
                        "state": "Enabled",
                        **(
                            {
                                "faults": f"{self.faults[bucket['Name']]} event(s) the sandbox failed to "
                                f"deliver, then retried (see its output)"
                            }
                            if self.faults.get(bucket["Name"])
                            else {}
                        ),
                    }
                )
        return found

    def start(self, service) -> None:
        self._service = service
        self._resume_accepted()
        self._router = threading.Thread(target=self._route, name="s3-event-router", daemon=True)
        self._router.start()

    def stop(self) -> None:
        self._writes.put(None)

    # -- accepted writes: with a state directory, on disk before the upload's 200 -----------------------
    def _accept(self, write: S3Write) -> None:
        """S3 has accepted the write; its event will be delivered. With a state directory, the write is
        kept until its event has been handed on (a record made, or a message sent), so an event accepted
        just before a crash is delivered after the restart."""
        name = None
        if self.context.state is not None and self.notifications.targets_for(write):
            name = f"s3-accepted/{write.event_time:.6f}-{uuid.uuid4().hex[:8]}"
            # flushed with the object itself, one flush before the upload's 200 (sandbox/state/recorder.py)
            self.context.state.save(name, dataclasses.asdict(write), durable=False)
        self._writes.put((name, write))

    def _resume_accepted(self) -> None:
        """After a restart: writes accepted but not handed on, in their order. One whose record was kept
        (the crash came between the two) is not delivered again."""
        if self.context.state is None:
            return
        made = {
            (r.subject.get("bucket"), r.subject.get("key"), round(r.detected_at, 6))
            for r in self._service.records.all()
            if r.source == SOURCE
        }
        for name, fields in self.context.state.saved("s3-accepted/"):
            write = S3Write(**fields)
            if (write.bucket, write.key, round(write.event_time, 6)) in made:
                self.context.state.forget(name)
            else:
                self._writes.put((name, write))

    def _route(self) -> None:
        handed_on: list[str] = []  # accepted writes whose event has been handed on, forgotten in batches
        since = 0.0
        while True:
            try:
                item = self._writes.get(timeout=FORGET_EVERY_S if handed_on else None)
            except queue.Empty:
                item = ()
            if handed_on and (
                item is None
                or item == ()
                or len(handed_on) >= 100
                or time.monotonic() - since >= FORGET_EVERY_S
            ):
                # One commit for many; one not yet forgotten at a crash is matched to its kept record.
                self.context.state.forget(*handed_on)
                handed_on.clear()
            if item is None:
                return
            if item == ():
                continue
            name, write, *retry = item
            if not self._hand_on(name, write, *retry) or name is None:
                continue  # to be retried: the write stays accepted (on disk with a state directory)
            if not handed_on:
                since = time.monotonic()
            handed_on.append(name)

    def _hand_on(self, name: str | None, write: S3Write, attempt: int = 1, done=frozenset()) -> bool:
        """Deliver a write's events, target by target. When the sandbox's own path fails (building or
        sending the event) it is told, counted on the bucket's triggers and retried (the targets already
        served are not served twice); after ``DELIVERY_ATTEMPTS`` the event goes to the function's
        dead-letter queue or on-failure destination, as Lambda does with an event it cannot process.
        True when the write is done with."""
        done = set(done)
        try:
            self._deliver(write, done)
            return True
        except Exception as exc:
            self.faults[write.bucket] = self.faults.get(write.bucket, 0) + 1
            final = attempt >= DELIVERY_ATTEMPTS
            self.context.report(
                f"sandbox: could not deliver the S3 event for s3://{write.bucket}/{write.key} "
                f"(attempt {attempt} of {DELIVERY_ATTEMPTS}): {type(exc).__name__}: {exc}"
                + ("" if final else f"; retrying in {RETRY_DELAY_S:g} s")
            )
        if final:
            self._dead_letter(write, done)
            return True
        retry = threading.Timer(
            RETRY_DELAY_S, self._writes.put, ((name, write, attempt + 1, frozenset(done)),)
        )
        retry.daemon = True
        retry.start()
        return False

    def _dead_letter(self, write: S3Write, done: set) -> None:
        """The event AWS would have retried and then dead-lettered: the write's fields stand in for an
        event the sandbox could not build."""
        for target in self.notifications.targets_for(write):
            if target.configuration_id in done or not isinstance(target, LambdaTarget):
                continue
            try:
                event = build_event(write, target.configuration_id, self.context.region)
            except Exception:
                event = {"sandboxUndeliverableS3Write": dataclasses.asdict(write)}
            record = self._service.new_record(
                event,
                target.function_name,
                trigger="s3",
                source=SOURCE,
                subject={"bucket": write.bucket, "key": write.key},
            )
            record.error_type, record.error_message = (
                "SandboxError",
                "the sandbox could not deliver this event",
            )
            runtime = self._service.runtime(target.function_name)
            if runtime is None or not self._service.dead_letters.send(
                record, runtime.function, "RetriesExhausted"
            ):
                self.context.report(
                    f"sandbox: the S3 event for s3://{write.bucket}/{write.key} was not delivered "
                    f"and {target.function_name} has no dead-letter queue or on-failure "
                    f"destination to keep it (AWS discards it too)"
                )

    def _deliver(self, write: S3Write, done: set) -> None:
        depth = lineage_depth(write.trace_header) + 1
        # One trace per write: a function's write continues the function's trace (its X-Amzn-Trace-Id);
        # a client's untraced write (the AWS CLI's) starts one here, as S3 would for its notification.
        root = trace_root(write.trace_header) or new_root()
        targets = [t for t in self.notifications.targets_for(write) if t.configuration_id not in done]
        if targets and write.trace_header is None:
            trace_hop(
                self.context,
                root,
                "S3",
                WRITE_OPERATIONS.get(write.event_name, write.event_name),
                f"{write.bucket}/{write.key}",
                write.event_time,
            )
        for target in targets:
            event = build_event(write, target.configuration_id, self.context.region)
            if isinstance(target, QueueTarget):
                self._send_to_queue(target, event, root, write)
                done.add(target.configuration_id)
                continue
            if isinstance(target, TopicTarget):
                self._publish_to_topic(target, event)
                done.add(target.configuration_id)
                continue
            trace_hop(
                self.context,
                root,
                "S3",
                "notification",
                target.function_name,
                write.event_time,
                time.time(),
                detail=f"s3:{write.event_name} ({target.configuration_id})",
            )
            record = self._service.new_record(
                event,
                target.function_name,
                trigger="s3",
                trace_id=new_trace_id(target.function_name, depth, root=root),
                detected_at=write.event_time,
                source=SOURCE,
                summary=f"s3://{write.bucket}/{write.key}",
                subject={"bucket": write.bucket, "key": write.key},
                how_detected=(
                    f"S3 saw s3:{write.event_name} of {write.key} in {write.bucket} and sent its event "
                    f"notification ({target.configuration_id})"
                ),
                how_responded="S3 invokes asynchronously: it does not wait; Lambda keeps the result, retries "
                "failures twice, then sends the event to the dead-letter queue",
            )
            self._service.submit(record, chain_depth=depth)
            done.add(target.configuration_id)

    def _send_to_queue(self, target: QueueTarget, event: dict, root: str, write: S3Write) -> None:
        """S3 -> SQS: the same event, as the message body (a queue's mapping then invokes the function).
        A traced write (a function's) passes its trace on in the message's ``AWSTraceHeader`` system
        attribute, which Lambda's poller continues; an untraced one (the AWS CLI's) gets no attribute, as
        on AWS, and the sandbox links the message to its trace itself."""
        sqs = self.context.client("sqs")
        parts = target.arn.split(":")
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        body = json.dumps(event)
        attributes = {}
        if write.trace_header is not None:
            header = f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=0"
            attributes = {"AWSTraceHeader": {"DataType": "String", "StringValue": header}}
        elif getattr(self.context, "traces", None) is not None:
            # linked before it is sent: the poller may receive it before send_message returns
            self.context.traces.link_message(hashlib.md5(body.encode()).hexdigest(), root)
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageSystemAttributes=attributes)
        trace_hop(
            self.context,
            root,
            "S3",
            "notification",
            parts[5],
            write.event_time,
            time.time(),
            detail=f"s3:{write.event_name} ({target.configuration_id}) → SendMessage",
            edge=(("bucket", write.bucket), ("queue", parts[5])),
        )

    def _publish_to_topic(self, target: TopicTarget, event: dict) -> None:
        """S3 -> SNS: the event as the message (the topic then delivers it to its subscriptions)."""
        sns = self.context.client("sns")
        sns.publish(TopicArn=target.arn, Message=json.dumps(event), Subject=SNS_SUBJECT)


SNS_SUBJECT = "Amazon S3 Notification"


def s3_object(record) -> tuple[str, str] | None:
    """(bucket, key) of an invocation record made from an S3 event, else None."""
    if record.source != SOURCE:
        return None
    return record.subject.get("bucket"), record.subject.get("key")
