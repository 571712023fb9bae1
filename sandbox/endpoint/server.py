"""The local AWS endpoint: moto's server, in this process, on 127.0.0.1. The only module besides
sandbox/state/moto_backends.py that imports moto; everything else talks to it over HTTP with boto3.

Hooks for the rest of the sandbox: ``service_middleware`` (wrap one moto service's WSGI app, as the S3
write observer and the Lambda API do), ``routes`` (apps under a path prefix, such as ``/_sandbox/``),
``add_service_app`` (a service the sandbox answers in moto's place: CloudFormation),
``add_public_route`` (a URL AWS serves to anyone, such as API Gateway's ``execute-api``) and
``object_facts`` (size, ETag and version of a stored object), ``observe_traced_requests`` (each request
that carries ``X-Amzn-Trace-Id``, named and timed: endpoint/traced_requests.py). Like moto's
``ThreadedMotoServer``, but with a clear error when the port is busy. Access rules: docs/access-rules.md.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sandbox.endpoint.access import OWN_ORIGIN, AccessPolicy, EndpointGuard
from sandbox.endpoint.traced_requests import TracedRequest, TraceObserver
from sandbox.errors import SandboxError
from sandbox.host_names import split_host
from sandbox.http_server import BoundedWSGIServer, KeepAliveMixIn, WriteTimeoutMixIn
from sandbox.patterns import wildcard_match

WSGIApp = Callable
Wrap = Callable[[WSGIApp], WSGIApp]

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account, used in every ARN the sandbox makes


class PortInUseError(SandboxError):
    pass


def check_port_free(host: str, port: int, option: str = "--port") -> None:
    """Raise PortInUseError with one clear sentence if ``host:port`` cannot be bound. (werkzeug would
    print its own message and exit the process instead.)"""
    import socket

    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        if os.name == "posix":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the real server does
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1), errno.EACCES):
                raise PortInUseError(
                    f"Port {port} on {host} is already in use (or not allowed); stop the program using it "
                    f"or choose another port with {option}."
                ) from None
            raise SandboxError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None


@dataclass(frozen=True)
class ObjectFacts:
    size: int
    etag: str  # without quotes, as the S3 event carries it
    version_id: str | None


def _disable_moto_cors() -> None:
    """moto's server answers CORS for every origin (flask-cors on each service's app). The sandbox
    decides CORS itself (sandbox/endpoint/access.py), so moto's is switched off; the guard also strips any
    Access-Control-* header that still comes back."""
    from moto.moto_server import werkzeug_app

    werkzeug_app.DISABLE_GLOBAL_CORS = True


def _silence_moto_notifications() -> None:
    """moto tries to invoke Lambda itself on S3 notifications, through Docker, and sends SQS messages with
    a reduced event.

    The sandbox delivers S3 events to functions and queues itself (with every field AWS sends, see
    sandbox/event_sources/s3/), so moto's delivery to functions, queues and topics is switched off.
    EventBridge notifications go to the sandbox's EventBridge (sandbox/event_sources/eventbridge/), in
    AWS's shape; the s3:TestEvent S3 sends queues and topics when the configuration is set keeps moto's
    own delivery (a topic's message then goes out through the sandbox's SNS delivery).
    """
    from moto.s3 import notifications

    if getattr(notifications.send_event, "_sandbox", False):
        return

    def send_event(account_id, event_name, bucket, key):  # moto's send_event, less Lambda, SQS and SNS
        configuration = bucket.notification_configuration
        if configuration is None:
            return
        if configuration.event_bridge is not None:  # to the sandbox's EventBridge (AWS's event shape)
            from sandbox.endpoint.s3_ids import new_s3_request_id

            versioned = getattr(bucket, "is_versioned", False)
            facts = {
                "bucket": bucket.name,
                "region": bucket.region_name,
                "account": account_id,
                "event_name": event_name,
                "key": key.name,
                "size": int(key.size) if "Created" in event_name else None,
                "etag": str(key.etag).strip('"'),
                "version_id": str(key.version_id)
                if versioned and key.version_id not in (None, "null")
                else None,
                "delete_marker": bool(getattr(key, "is_delete_marker", False))
                or event_name.endswith("DeleteMarkerCreated"),
                "request_id": new_s3_request_id(),
                "at": time.time(),
            }
            for endpoint in list(_running):
                for observer in endpoint._s3_bridge_observers:
                    observer(facts)

    send_event._sandbox = True
    notifications.send_event = send_event
    original_test_event = notifications._get_test_event

    def test_event(bucket_name):  # AWS's s3:TestEvent also names the request (RequestId, HostId)
        from sandbox.endpoint.s3_ids import new_host_id, new_s3_request_id

        # AWS: the ids of the PutBucketNotificationConfiguration request; here fresh ids of that shape.
        return {**original_test_event(bucket_name), "RequestId": new_s3_request_id(), "HostId": new_host_id()}

    notifications._get_test_event = test_event

    def send_sns_message(account_id, event_body, topic_arn, region_name):  # the s3:TestEvent to a topic
        from moto.sns.models import sns_backends

        try:
            sns_backends[account_id][region_name].publish(
                arn=topic_arn, message=json.dumps(event_body), subject=S3_NOTIFICATION_SUBJECT
            )
        except Exception:  # S3 checks the topic when the configuration is set; a topic deleted since: none
            pass

    notifications._send_sns_message = send_sns_message


def _iso_milliseconds(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"


S3_NOTIFICATION_SUBJECT = "Amazon S3 Notification"  # the Subject of what S3 publishes to a topic


def _deliver_sns_through_the_sandbox() -> None:
    """moto's SNS delivers a message to its SQS, Lambda and HTTP subscriptions inside Publish (Lambda
    through Docker, SQS with a reduced envelope, only the first 100 subscriptions). The sandbox's SNS
    delivery (sandbox/event_sources/sns/) is the only one: moto's is switched off, and each message a
    topic accepts (Publish, PublishBatch, S3's test event) is handed to the running endpoint's SNS
    observers with the topic's subscriptions as they are at that moment, before Publish answers."""
    from moto.sns.exceptions import InvalidParameterValue
    from moto.sns.models import Subscription, Topic

    if getattr(Topic.publish, "_sandbox", False):
        return
    original = Topic.publish

    def publish(
        self,
        message,
        subject=None,
        message_attributes=None,
        group_id=None,
        deduplication_id=None,
        message_structure=None,
    ):
        if message_structure == "json":  # AWS refuses it in Publish; moto only when delivering
            try:
                structured = json.loads(message)
            except ValueError:
                raise InvalidParameterValue(
                    "Invalid parameter: Message Structure - No JSON message body is parseable"
                ) from None
            if not isinstance(structured, dict) or not isinstance(structured.get("default"), str):
                raise InvalidParameterValue(
                    "Invalid parameter: Message Structure - No default entry in JSON message body"
                )
        message_id = original(
            self, message, subject, message_attributes, group_id, deduplication_id, message_structure
        )
        publication = {
            "topic_arn": self.arn,
            "message_id": message_id,
            "message": message,
            "timestamp": _iso_milliseconds(time.time()),
            "subject": subject,
            "attributes": dict(message_attributes or {}),
            "structure": message_structure,
            "group_id": group_id,
            "deduplication_id": deduplication_id,
            "subscriptions": tuple(
                {
                    "arn": s.arn,
                    "protocol": s.protocol,
                    "endpoint": s.endpoint,
                    "attributes": dict(s.attributes),
                }
                for s in self.sns_backend._get_topic_subscriptions(self)
            ),
        }
        self.sent_notifications.clear()  # moto keeps every message; the sandbox's delivery has it
        for endpoint in list(_running):
            for observer in endpoint._sns_observers:
                observer(publication)
        return message_id

    publish._sandbox = True
    Topic.publish = publish
    Subscription.publish = lambda self, *args, **kwargs: None


def _keep_moto_from_running_event_source_mappings() -> None:
    """moto, told of an event source mapping, hooks it onto the queue or table: every SendMessage then
    receives the message inside the request (its receive count goes up; with maxReceiveCount 1 it goes
    straight to the DLQ) and every table write tries Docker and then clears the stream shard. The
    sandbox's own pollers run mappings (sandbox/event_sources/sqs.py, dynamodb_streams.py), so moto keeps
    only the mapping's record, which the Lambda API reads back."""
    from moto.awslambda.models import LambdaBackend

    if getattr(LambdaBackend.create_event_source_mapping, "_sandbox", False):
        return
    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self, spec):
        mapping = original(self, spec)
        from moto.dynamodb.models import dynamodb_backends
        from moto.sqs.models import sqs_backends

        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        for table in dynamodb_backends[self.account_id][self.region_name].tables.values():
            table.lambda_event_source_mappings.pop(mapping.function_arn, None)
        # Lambda keeps the ARN the mapping was given, alias and all (moto: the version the alias names).
        named = spec.get("FunctionName") or ""
        if ":" in named and not named.startswith("arn:"):
            named = f"arn:aws:lambda:{self.region_name}:{self.account_id}:function:{named}"
        if named.startswith("arn:") and named.count(":") == 7:
            mapping.function_arn = named
        return mapping

    create_event_source_mapping._sandbox = True
    LambdaBackend.create_event_source_mapping = create_event_source_mapping


def _number_lambda_versions_as_aws_does() -> None:
    """Lambda numbers versions 1, 2, 3, ... and never reuses a number, even of a deleted version; moto
    numbers a new one after the count of those left (publish, delete 1, publish: a second "2"). The new
    version takes the number after the highest ever given, kept with moto's own record of the function.
    An alias gets a new RevisionId on every update (moto keeps its first)."""
    from moto.awslambda.models import LambdaStorage

    if getattr(LambdaStorage.publish_version, "_sandbox", False):
        return
    original = LambdaStorage.publish_version

    def publish_version(self, name_or_arn, description=""):
        function = self.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
        group = self._functions.get(function.function_name) or {}
        versions = group.get("versions", [])
        highest = max([group.get("sandbox_highest_version", 0)] + [int(v.version) for v in versions])
        count = len(versions)
        published = original(self, name_or_arn, description)
        if published is not None and len(versions) > count:  # a new version, not the unchanged last one
            self._arns.pop(published.function_arn, None)
            published.set_version(highest + 1)
            group["sandbox_highest_version"] = highest + 1
            for version in versions:
                self._arns[version.function_arn] = version
        return published

    publish_version._sandbox = True
    LambdaStorage.publish_version = publish_version

    from moto.awslambda.models import LambdaAlias

    original_update = LambdaAlias.update

    def update(self, description, function_version, routing_config):
        """Each change of an alias gives it a new RevisionId, as Lambda does (moto keeps the first)."""
        import uuid

        original_update(self, description, function_version, routing_config)
        self.revision_id = str(uuid.uuid4())

    LambdaAlias.update = update


def _copy_lambda_functions_without_their_logs() -> None:
    """moto deep-copies a function to answer create-function with Publish and list-functions, and each
    function keeps a reference to CloudWatch Logs' backend: every log group and event the sandbox holds was
    copied with it, on every such call, while the sandbox's threads wrote new ones ("dictionary changed size
    during iteration", and boto3's retry then met "Function already exist"). A function's copy shares the
    logs backend, as the original does."""
    from moto.awslambda.models import LambdaFunction

    if "__deepcopy__" in LambdaFunction.__dict__:
        return

    def __deepcopy__(self, memo):
        logs = self.__dict__.get("logs_backend")
        if logs is not None:
            memo[id(logs)] = logs
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update(copy.deepcopy(self.__getstate__(), memo))
        return clone

    LambdaFunction.__deepcopy__ = __deepcopy__


def _keep_moto_from_delivering_events_to_lambda() -> None:
    """moto's EventBridge reads a rule without an event pattern as matching every event, so each
    PutEvents is sent to the targets of every scheduled rule, and a Lambda target raises
    NotImplementedError: PutEvents answers 500. On AWS a scheduled rule matches no event; the sandbox's
    clock fires it (sandbox/event_sources/schedules/). So scheduled rules receive no PutEvents, moto
    sends nothing to Lambda, SQS or SNS targets (sandbox/event_sources/eventbridge/ delivers: nothing
    runs or arrives twice; moto's SNS delivery answered PutEvents with a 500), and its Docker-based
    delivery of its own service events to Lambda (moto.events.notifications) is switched off, as for S3."""
    import copy

    from moto.events import notifications
    from moto.events.models import Rule

    notifications._invoke_lambda = lambda *args, **kwargs: None
    if getattr(Rule.send_to_targets, "_sandbox", False):
        return
    original = Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):
        if self.scheduled_expression and not self.event_pattern.get_pattern():
            return None
        rule = self
        targets = [t for t in self.targets if t.get("Arn", "").split(":")[2:3] == ["events"]]  # archives
        if len(targets) != len(self.targets):  # a copy without them: the stored rule keeps its targets
            rule = copy.copy(self)
            rule.targets = targets
        return original(rule, original_event, transform_input)

    send_to_targets._sandbox = True
    Rule.send_to_targets = send_to_targets


def _keep_stream_labels_as_aws_writes_them() -> None:
    """A DynamoDB stream's label (the end of its ARN) is its creation time with milliseconds on AWS
    (``2026-12-07T00:45:12.123``); moto writes microseconds."""
    from moto.dynamodb.models.table import Table

    if getattr(Table.set_stream_specification, "_sandbox", False):
        return
    original = Table.set_stream_specification

    def set_stream_specification(self, streams):
        before = self.latest_stream_label
        original(self, streams)
        label = self.latest_stream_label
        if label and label != before and "." in label:
            whole, fraction = label.split(".", 1)
            self.latest_stream_label = f"{whole}.{fraction[:3]}"
        elif label and label != before:
            self.latest_stream_label = f"{label}.000"

    set_stream_specification._sandbox = True
    Table.set_stream_specification = set_stream_specification


def _keep_sqs_as_aws_answers() -> None:
    """Two things of moto's SQS the sandbox's pollers meet:

    - it checks each received message's retention period by computing every attribute of its queue,
      which counts all of the queue's messages: a ReceiveMessage on a 1,000-message queue took seconds
      (a poller fell behind its messages' visibility timeout); the check reads the one attribute;
    - it gives a FIFO message a SequenceNumber only when the sender named a MessageDeduplicationId (not
      with ContentBasedDeduplication), and a random one; AWS numbers every FIFO message, increasing."""
    import itertools
    import time

    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend.is_message_valid_based_on_retention_period, "_sandbox", False):
        return

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    is_message_valid_based_on_retention_period._sandbox = True
    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period

    # moto's clock (a naive datetime minus the epoch, ~10 us) is read for every message of a queue on every
    # send and receive; time.time() is the same number.
    from moto.sqs import models

    models.unix_time = lambda dt=None: time.time() if dt is None else unix_time(dt)
    models.unix_time_millis = lambda dt=None: models.unix_time(dt) * 1000.0

    numbers = itertools.count(18_849_496_460_467_696_128)  # 20 digits, as AWS's
    original_send = SQSBackend.send_message

    def send_message(self, queue_name, *args, **kwargs):
        message = original_send(self, queue_name, *args, **kwargs)
        if self.get_queue(queue_name).fifo_queue and not getattr(message, "sandbox_numbered", False):
            message.sequence_number, message.sandbox_numbered = str(next(numbers)), True  # not a duplicate's
        return message

    SQSBackend.send_message = send_message


def _share_boto3_session() -> None:
    """moto makes a boto3 session of its own to list each service's regions, which loads botocore's
    endpoints and each service's model a second time; the sandbox's clients already loaded them in
    boto3's default session, the one moto uses here (same files, same regions)."""
    import boto3
    from moto.core.base_backend import AccountSpecificBackend

    AccountSpecificBackend.get_session = classmethod(lambda cls: boto3._get_default_session())


def _load_moto_models_once() -> None:
    """moto reads a service's model (botocore's, with moto's extras) with a new loader each time, and
    each new loader lists every service's folder again (thousands of stat calls); one loader for all
    reads the same files once."""
    from moto.core import loaders, utils

    if getattr(utils._load_service_model, "_sandbox", False):
        return
    loader = loaders.create_loader()

    def load_service_model(service_name: str, model_name: str) -> dict:
        return loader.load_service_model(service_name, model_name)

    load_service_model._sandbox = True
    utils._load_service_model = load_service_model


def _keep_rest_api_binary_media_types() -> None:
    """moto drops the ``binaryMediaTypes`` of create-rest-api and misreads the ``add``/``remove`` operations
    of update-rest-api (API Gateway names the media type in the path: ``/binaryMediaTypes/image~1jpeg``).
    A REST API needs them to pass binary bodies (sandbox/event_sources/api_gateway/), so they are kept
    as API Gateway keeps them."""
    import json

    from moto.apigateway.models import RestAPI
    from moto.apigateway.responses import APIGatewayResponse

    if getattr(RestAPI.apply_patch_operations, "_sandbox", False):
        return
    create, patch = APIGatewayResponse.create_rest_api, RestAPI.apply_patch_operations

    def create_rest_api(self):
        status, headers, body = create(self)
        media_types = self._get_param("binaryMediaTypes")
        if status == 200 and media_types:
            api = self.backend.get_rest_api(json.loads(body)["id"])
            api.binaryMediaTypes = list(media_types)
            body = json.dumps(api.to_dict())
        return status, headers, body

    def apply_patch_operations(self, operations):
        others = []
        for operation in operations:
            path = operation.get("path", "")
            if path.startswith("/binaryMediaTypes/") and operation.get("op") in ("add", "remove"):
                media_type = path.split("/", 2)[2].replace("~1", "/").replace("~0", "~")
                if operation["op"] == "add" and media_type not in self.binaryMediaTypes:
                    self.binaryMediaTypes.append(media_type)
                elif operation["op"] == "remove" and media_type in self.binaryMediaTypes:
                    self.binaryMediaTypes.remove(media_type)
            else:
                others.append(operation)
        patch(self, others)

    apply_patch_operations._sandbox = True
    APIGatewayResponse.create_rest_api = create_rest_api
    RestAPI.apply_patch_operations = apply_patch_operations


# moto's services whose module is slow to import (API Gateway's brings an OpenAPI validator, and with it
# jsonschema's format checkers) are patched when their app is first made, not at start: the sandbox is
# ready before they load, and a request to them meets them patched.
_ON_FIRST_USE = {"apigateway": _keep_rest_api_binary_media_types}
_on_first_use_lock = threading.Lock()


def _patch_on_first_use(service: str) -> None:
    patch = _ON_FIRST_USE.get(service)
    if patch is not None:
        with _on_first_use_lock:
            patch()


# Requests served at once (each holds a thread): room for the sandbox's own traffic (workers' SDK calls,
# long-polling pollers, synchronous invokes) besides many clients; a slow client is dropped after
# http_server.READ_TIMEOUT_S of silence.
MAX_CONNECTIONS = 256
# The request's headers exactly as the client sent them, in order, names in its case, repeats kept: a list
# of (name, value). The WSGI environ folds repeats and upper-cases names; API Gateway's payload 1.0
# events need both as sent.
RAW_HEADERS = "sandbox.raw_headers"


def _request_handler():
    """moto's request handler (it keeps headers with ``_`` in their names, such as S3 user metadata
    ``x-amz-meta-my_key``, which werkzeug's drops), quiet, with the raw headers in the environ."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class EndpointRequestHandler(KeepAliveMixIn, WriteTimeoutMixIn, MotoRequestHandler):
        # HTTP/1.1, connections kept alive as AWS keeps them (KeepAliveMixIn: werkzeug alone closes each).
        protocol_version = "HTTP/1.1"

        def make_environ(self):
            environ = super().make_environ()
            environ[RAW_HEADERS] = list(self.headers.items())
            return environ

        # The terminal shows the function's logs, not one line per HTTP request.
        def log_request(self, *args, **kwargs):
            pass

    return EndpointRequestHandler


_running_lock = threading.Lock()
_running: list[LocalEndpoint] = []
_moto_apps: dict[str, WSGIApp] = {}
_moto_apps_lock = threading.Lock()


def moto_app(service: str) -> WSGIApp:
    """moto's Flask app for ``service``, built once per process (compiling its URL rules costs ~20 ms a
    service): it holds no state of its own (that is in moto's backends, reset at each start), and moto's
    own server keeps one app per service across resets too."""
    from moto.moto_server.werkzeug_app import create_backend_app

    with _moto_apps_lock:
        app = _moto_apps.get(service)
        if app is None:
            app = _moto_apps[service] = create_backend_app(service)
        return app


def keep_moto_patterns_linear() -> None:
    """moto turns EventBridge's ``wildcard`` filters into a backtracking ``.*`` pattern, and reads the
    NamePrefix of ListRules and the QueueNamePrefix of ListQueues as regular expressions: any of them
    could hold the server. Here a wildcard runs on RE2 and a prefix is a prefix, as on AWS."""
    from moto.events.models import PAGINATION_MODEL, EventPattern, EventsBackend
    from moto.sqs.models import SQSBackend
    from moto.utilities.paginator import paginate

    if getattr(EventsBackend.list_rules, "_sandbox", False):
        return
    EventPattern._wildcard_match = staticmethod(
        lambda item, pattern: isinstance(item, str) and wildcard_match(item, pattern)
    )
    all_rules, all_queues = EventsBackend.list_rules.__wrapped__, SQSBackend.list_queues  # without paging

    @paginate(pagination_model=PAGINATION_MODEL)  # the model is found by the method's name
    def list_rules(self, prefix=None, event_bus_arn=None):
        return [rule for rule in all_rules(self, None, event_bus_arn) if rule.name.startswith(prefix or "")]

    def list_queues(self, queue_name_prefix):
        return [queue for queue in all_queues(self, None) if queue.name.startswith(queue_name_prefix or "")]

    list_rules._sandbox = True
    EventsBackend.list_rules, SQSBackend.list_queues = list_rules, list_queues


class LocalEndpoint:
    """moto keeps its state in module globals, so one process holds one endpoint at a time; each start
    begins from empty state (as a fresh `moto_server` would)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        service_middleware: Mapping[str, Wrap] | None = None,
        routes: Mapping[str, WSGIApp] | None = None,
        access: AccessPolicy | None = None,
    ):
        self.host = host
        self.access = access or AccessPolicy(bind_host=host)
        self.requested_port = port
        self._middleware = dict(service_middleware or {})
        self._service_apps: dict[str, WSGIApp] = {}
        self._routes = dict(routes or {})
        self._public_prefixes: dict[str, WSGIApp] = {}
        self._host_routes: list[tuple[str, WSGIApp]] = []
        self._sns_observers: list[Callable[[dict], None]] = []
        self._s3_bridge_observers: list[Callable[[dict], None]] = []
        self._server = None
        self._thread: threading.Thread | None = None
        self._innermost: Callable[[str, WSGIApp], WSGIApp] | None = None
        self._outermost: dict[str, Wrap] = {}
        self._every_outermost: Callable[[str, WSGIApp], WSGIApp] | None = None
        self._before_serving: list[Callable[[], None]] = []
        self._traced_request_listeners: list[Callable[[TracedRequest], None]] = []

    def observe_traced_requests(self, listener: Callable[[TracedRequest], None]) -> None:
        """Call ``listener(TracedRequest)`` for every request to a moto service that carries an
        ``X-Amzn-Trace-Id`` header (a function's SDK calls), once it is answered."""
        self._traced_request_listeners.append(listener)

    def add_service_middleware(self, service: str, wrap: Wrap, outermost: bool = False) -> None:
        """Wrap one moto service's app (before start); several wraps nest, the last added outside the
        earlier ones, and an ``outermost`` one outside them all."""
        if outermost:
            self._outermost[service] = wrap
            return
        inner = self._middleware.get(service)
        self._middleware[service] = wrap if inner is None else (lambda app, outer=wrap: outer(inner(app)))

    def wrap_every_service(self, wrap: Callable[[str, WSGIApp], WSGIApp], outermost: bool = False) -> None:
        """``wrap(service, app)`` right around each of moto's service apps, inside every other middleware
        (the state directory's recorder: it writes what moto did before anyone else acts on it), or with
        ``outermost`` outside them all (its barrier: what the request wrote is flushed before it is
        answered)."""
        if outermost:
            self._every_outermost = wrap
        else:
            self._innermost = wrap

    def before_serving(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` after moto's state is reset and before the first request (restoring a state)."""
        self._before_serving.append(hook)

    def add_service_app(self, service: str, app: WSGIApp) -> None:
        """Answer one AWS service (as moto names it) with ``app`` instead of moto's (before start)."""
        self._service_apps[service] = app

    def add_public_route(
        self, app: WSGIApp, path_prefix: str | None = None, host_suffix: str | None = None
    ) -> None:
        """Serve ``app`` (before start) at a path prefix and/or on every Host name ending in ``host_suffix``
        (port aside): a URL that is public on AWS, so the guard applies only its Host rule to it."""
        if path_prefix:
            self._public_prefixes[path_prefix] = app
        if host_suffix:
            self._host_routes.append((host_suffix.lower(), app))

    # -- lifecycle -----------------------------------------------------------------------------------
    # Long on purpose: the server's assembly in the order requests meet it (moto's app per service, its
    # wrappers, the routes, the access guard, the HTTP server), with the undo of each step beside it.
    def start(self) -> LocalEndpoint:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        _silence_moto_notifications()
        _deliver_sns_through_the_sandbox()
        _disable_moto_cors()
        _share_boto3_session()
        _load_moto_models_once()
        _keep_moto_from_running_event_source_mappings()
        _number_lambda_versions_as_aws_does()
        _copy_lambda_functions_without_their_logs()
        _keep_moto_from_delivering_events_to_lambda()
        keep_moto_patterns_linear()
        _keep_stream_labels_as_aws_writes_them()
        _keep_sqs_as_aws_answers()
        with _running_lock:
            if _running:
                raise SandboxError(
                    "A sandbox is already running in this process (moto's state is "
                    "per process); stop it before starting another."
                )
            from moto.moto_api._internal.models import moto_api_backend

            moto_api_backend.reset()
            _running.append(self)

        def create_app(service):
            if service in self._service_apps:
                return self._service_apps[service]
            _patch_on_first_use(service)
            app = moto_app(service)
            if self._innermost is not None:
                app = self._innermost(service, app)
            wrap = self._middleware.get(service)
            app = wrap(app) if wrap else app
            app = self._outermost[service](app) if service in self._outermost else app
            app = self._every_outermost(service, app) if self._every_outermost is not None else app
            return TraceObserver(service, app, self._traced_request_listeners)

        try:
            check_port_free(self.host, self.requested_port)
            for hook in self._before_serving:
                hook()
        except BaseException:
            moto_api_backend.reset()  # never a half-restored state
            with _running_lock:
                _running.remove(self)
            raise

        class CachedDispatcher(DomainDispatcherApplication):
            # moto matches the host against every service's URL patterns, under a lock, on every
            # request; the answer for a host never changes, so remember it.
            _backend_cache: dict = {}

            def get_backend_for_host(self, host):
                try:
                    return self._backend_cache[host]
                except KeyError:
                    backend = super().get_backend_for_host(host)
                    self._backend_cache[host] = backend
                    return backend

        dispatcher = CachedDispatcher(create_app)
        handler = _request_handler()
        routes = _PrefixRoutes(dispatcher, self._routes, self._public_prefixes, self._host_routes)
        app = EndpointGuard(routes, self.access, self.bucket_cors, public=routes.is_public)
        try:
            self._server = BoundedWSGIServer(
                self.host, self.requested_port, app, handler, max_connections=MAX_CONNECTIONS
            )
        except OSError as exc:
            with _running_lock:
                _running.remove(self)
            if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)) or "in use" in str(exc):
                raise PortInUseError(
                    f"Port {self.requested_port} on {self.host} is already in use; stop the program using it "
                    f"or choose another port with --port."
                ) from None
            raise SandboxError(
                f"Could not listen on {self.host}:{self.requested_port}: {exc.strerror or exc}."
            ) from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-endpoint", daemon=True)
        self._thread.start()
        return self

    def load_deferred_services(self) -> None:
        """Load and patch now the services left to their first use (a caller's background thread, once
        the sandbox is ready, so a page that lists API Gateway's APIs does not wait for them)."""
        for service in _ON_FIRST_USE:
            _patch_on_first_use(service)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            with _running_lock:
                if self in _running:
                    _running.remove(self)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the endpoint is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- facts the S3 event needs -------------------------------------------------------------------
    def object_facts(
        self, bucket: str, key: str, version_id: str | None = None, account_id: str = DEFAULT_ACCOUNT_ID
    ) -> ObjectFacts | None:
        """Size, ETag and version of a stored object, read from moto's S3 state (no HTTP round trip)."""
        from moto.s3.models import s3_backends

        backend = s3_backends[account_id]["aws"]
        try:
            obj = backend.get_object(bucket, key, version_id=version_id)
        except Exception:
            return None
        if obj is None:
            return None
        versioned = getattr(backend.get_bucket(bucket), "is_versioned", False)
        return ObjectFacts(
            size=int(obj.size),
            etag=str(obj.etag).strip('"'),
            version_id=str(obj.version_id) if versioned and obj.version_id not in (None, "null") else None,
        )

    def observe_sns_publications(self, observer: Callable[[dict], None]) -> None:
        """Call ``observer(publication)`` for every message a topic accepts, in the Publish request, before
        it is answered: it must be quick. A publication is a dict: topic_arn, message_id, message,
        timestamp, subject, attributes ({name: {Type, Value}}), structure, group_id, deduplication_id and
        the topic's subscriptions ({arn, protocol, endpoint, attributes})."""
        self._sns_observers.append(observer)

    def observe_s3_eventbridge(self, observer: Callable[[dict], None]) -> None:
        """Call ``observer(facts)`` for every object event of a bucket whose notification configuration
        turns EventBridge on, in the S3 request (quick): bucket, region, account, event_name, key, size,
        etag, version_id, delete_marker, request_id, at."""
        self._s3_bridge_observers.append(observer)

    def bucket_notifications(self, bucket: str, account_id: str = DEFAULT_ACCOUNT_ID) -> dict:
        """A bucket's notification configuration for Lambda functions and queues, in the shape of
        GetBucketNotificationConfiguration, read from moto's state: the sandbox's bookkeeping never shows
        up as the user's request (in the bucket's access log, for one). {} for an unknown bucket."""
        from moto.s3.models import s3_backends

        try:
            configuration = s3_backends[account_id]["aws"].get_bucket(bucket).notification_configuration
        except Exception:
            return {}
        if configuration is None:
            return {}

        def as_list(value):
            return [value] if isinstance(value, (str, dict)) else list(value or [])

        def entry(notification, arn_name):
            rules = as_list((notification.filters.get("S3Key") or {}).get("FilterRule"))
            found = {
                "Id": notification.id,
                arn_name: notification.arn,
                "Events": as_list(notification.events),
            }
            if rules:
                found["Filter"] = {
                    "Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}
                }
            return found

        return {
            "LambdaFunctionConfigurations": [
                entry(n, "LambdaFunctionArn") for n in configuration.cloud_function
            ],
            "QueueConfigurations": [entry(n, "QueueArn") for n in configuration.queue],
            "TopicConfigurations": [entry(n, "TopicArn") for n in configuration.topic],
        }

    def bucket_cors(self, bucket: str, account_id: str = DEFAULT_ACCOUNT_ID) -> list[dict] | None:
        """A bucket's CORS rules (``put-bucket-cors``) in the API's shape, or None when it has none."""
        from moto.s3.models import s3_backends

        try:
            found = s3_backends[account_id]["aws"].get_bucket(bucket)
        except Exception:
            return None
        if not found.cors:
            return None

        def as_list(value):
            return [value] if isinstance(value, str) else list(value or [])

        return [
            {
                "AllowedOrigins": as_list(rule.allowed_origins),
                "AllowedMethods": as_list(rule.allowed_methods),
                "AllowedHeaders": as_list(rule.allowed_headers),
                "ExposeHeaders": as_list(rule.exposed_headers),
                "MaxAgeSeconds": int(rule.max_age_seconds)
                if rule.max_age_seconds not in (None, "")
                else None,
            }
            for rule in found.cors
        ]

    def load_aws_managed_policies(self, names: tuple[str, ...], account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        """Make AWS-managed policies (``arn:aws:iam::aws:policy/...``) attachable, as on AWS.

        moto loads all ~1,300 of them only when MOTO_IAM_LOAD_MANAGED_POLICIES is set, which costs about a
        second of start-up; the guide needs two (AmazonS3FullAccess, AWSLambdaBasicExecutionRole)."""
        import json

        from moto.iam.aws_managed_policies import aws_managed_policies_data
        from moto.iam.models import AWSManagedPolicy, iam_backends

        backend = iam_backends[account_id]["aws"]
        decoder = json.JSONDecoder()
        for name in names:
            index = aws_managed_policies_data.find(f'"{name}":')
            if index < 0:
                continue
            start = aws_managed_policies_data.index("{", index)
            data, _ = decoder.raw_decode(aws_managed_policies_data, start)
            policy = AWSManagedPolicy.from_data(name, account_id, "us-east-1", data)
            backend.managed_policies[policy.arn] = policy


class _PrefixRoutes:
    """Send ``/_sandbox/...`` (and any other registered prefix) to the sandbox's own small apps, and the
    public URLs (a path prefix, or a Host name suffix such as ``.execute-api.localhost``) to theirs."""

    def __init__(
        self,
        fallback: WSGIApp,
        routes: Mapping[str, WSGIApp],
        public_prefixes: Mapping[str, WSGIApp] | None = None,
        host_routes=(),
    ):
        self.fallback = fallback
        self.routes = sorted({**routes, **(public_prefixes or {})}.items(), key=lambda item: -len(item[0]))
        self.public_prefixes = tuple(public_prefixes or ())
        self.host_routes = list(host_routes)

    def _host_app(self, environ) -> WSGIApp | None:
        if not self.host_routes:
            return None
        name = split_host(environ.get("HTTP_HOST") or "")[0]
        return next((app for suffix, app in self.host_routes if name.endswith(suffix)), None)

    def is_public(self, environ) -> str | None:
        """``OWN_ORIGIN`` for a public URL on a host name of its own, ``"endpoint-origin"`` for one under
        a path prefix of the endpoint's origin, None for the rest (see sandbox/endpoint/access.py)."""
        if self._host_app(environ) is not None:
            return OWN_ORIGIN
        return "endpoint-origin" if environ.get("PATH_INFO", "").startswith(self.public_prefixes) else None

    def __call__(self, environ, start_response):
        app = self._host_app(environ)
        if app is not None:
            return app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        for prefix, app in self.routes:
            if path.startswith(prefix):
                return app(environ, start_response)
        return self.fallback(environ, start_response)
