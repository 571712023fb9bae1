"""A stand-in sandbox for the page's units: what the page may use of a sandbox (SandboxView), with the real
InvocationLog and log mirror, and an S3 client that knows only one listing."""

from __future__ import annotations

from sandbox.config import FunctionConfiguration, SandboxConfig
from sandbox.lambda_.invocation import InvocationLog
from sandbox.telemetry.cloudwatch_logs import CloudWatchLogs

SOURCE = "source-image-bucket123"


class Listing:
    """An S3 client that knows only ``list_objects_v2`` pages, for the feed's one listing."""

    def __init__(self, objects):
        self.objects = objects

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket):
        assert Bucket == SOURCE
        return [{"Contents": self.objects}]


class StandIn:
    """What the page may use of a sandbox (SandboxView), with a real record log and log mirror."""

    def __init__(self, objects=()):
        self.config = SandboxConfig(port=0, web_port=None)
        self.function = FunctionConfiguration(maximum_retry_attempts=2)
        self.records = InvocationLog()
        self.logs = CloudWatchLogs()
        self.listing = Listing(list(objects))
        self.persistence = None  # no state directory

    def client(self, service):
        if service != "s3":
            raise RuntimeError(f"no {service} here")
        return self.listing

    def log_events(self, **filters):
        return self.logs.events(**filters)

    def invocations(self):
        return list(reversed(self.records.all()))
