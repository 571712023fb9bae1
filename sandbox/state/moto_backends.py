"""moto's state, written to and read from the state database.

moto keeps each service's state in module globals and has no persistence; like LocalStack, this module
pickles it, one service at a time (``moto/<service>``) after each request that changed it. Each S3 key,
with its versions, is its own entity (``s3key/<account>/<bucket>/<key>``), so an upload writes one
object, not the bucket. This module and sandbox/endpoint/server.py are the only ones that import moto.

How the snapshot differs from LocalStack's: docs/state-internals.md.
"""

from __future__ import annotations

import io
import pickle
import threading
import weakref
from collections import defaultdict
from datetime import timezone

from sandbox.config import ACCOUNT_ID, DEFAULT_REGION
from sandbox.endpoint.server import moto_app

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
PROTOCOL = 5


def backend_dict(service: str):
    from moto.backends import get_backend

    return get_backend(service)


def _defaultdict(factory, items: dict) -> defaultdict:
    return defaultdict(factory, items)


def _weak_value_dict(items: dict) -> weakref.WeakValueDictionary:
    return weakref.WeakValueDictionary(items)


def _module_global(module: str, name: str):
    import importlib

    return getattr(importlib.import_module(module), name)


def _global_name(backends) -> tuple[str, str]:
    """Where a BackendDict lives (``moto.awslambda.models``, ``lambda_backends``), to pickle a reference."""
    import sys

    module = backends.backend.__module__
    for name, value in vars(sys.modules[module]).items():
        if value is backends:
            return module, name
    raise pickle.PicklingError(f"cannot find where moto keeps the {backends.service_name} backends")


def _account_backends(module: str, name: str, account_id: str):
    return _module_global(module, name)[account_id]


class _Pickler(pickle.Pickler):
    """Pickles one service's backends; S3 key stores and other services' backends become references."""

    def __init__(self, file, key_stores: dict[int, tuple]):
        super().__init__(file, protocol=PROTOCOL)
        self.key_stores = key_stores

    def persistent_id(self, obj):
        ref = self.key_stores.get(id(obj))
        if ref is not None:
            return ("s3keys",) + ref
        return None

    def reducer_override(self, obj):
        from moto.core.base_backend import AccountSpecificBackend, BackendDict

        if isinstance(obj, _LOCK_TYPES):
            return type(obj) is _LOCK_TYPES[1] and (threading.RLock, ()) or (threading.Lock, ())
        if type(obj) is defaultdict and getattr(obj.default_factory, "__name__", "") == "<lambda>":
            sample = obj.default_factory()  # moto's defaultdict(lambda: {}) is a defaultdict(dict)
            if type(sample) in (dict, list, set, int) and not sample:
                return (_defaultdict, (type(sample), dict(obj)))
        if isinstance(obj, weakref.WeakValueDictionary):
            return (_weak_value_dict, (dict(obj.items()),))
        if isinstance(obj, BackendDict):  # another service's backends, reached through a reference
            return (_module_global, _global_name(obj))
        if isinstance(obj, AccountSpecificBackend):
            owner = next(b for b in BackendDict._instances if b.get(obj.account_id) is obj)
            return (_account_backends, (*_global_name(owner), obj.account_id))
        return NotImplemented


def _s3_key_stores(service: str) -> dict[int, tuple]:
    """id(bucket.keys) -> (account, bucket name), for every bucket, when pickling S3."""
    if service != "s3":
        return {}
    stores = {}
    for account_id, account in list(backend_dict("s3").items()):
        for backend in list(account.values()):
            for name, bucket in list(backend.buckets.items()):
                stores[id(bucket.keys)] = (account_id, name)
    return stores


def snapshot(service: str) -> bytes:
    """The pickled backends of ``service`` (all accounts and regions), S3's objects excepted."""
    backends = {account_id: dict(account) for account_id, account in list(backend_dict(service).items())}
    for attempt in range(5):
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, _s3_key_stores(service)).dump(backends)
            return buffer.getvalue()
        except RuntimeError:  # a dict changed size under a concurrent read-side mutation: try again
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, key_stores: dict[tuple, object]):
        super().__init__(file)
        self.key_stores = key_stores

    def persistent_load(self, pid):
        if pid[0] == "s3keys":
            from moto.s3.utils import _VersionedKeyStore

            return self.key_stores.setdefault(tuple(pid[1:]), _VersionedKeyStore())
        raise pickle.UnpicklingError(f"unknown reference {pid!r}")


def load_service(service: str, data: bytes, key_stores: dict[tuple, object]) -> None:
    """Put a snapshot's backends in place of moto's (which the endpoint has just reset)."""
    backends = _Unpickler(io.BytesIO(data), key_stores).load()
    live = backend_dict(service)
    for account_id, regions in backends.items():
        account = live[account_id]  # creates the AccountSpecificBackend as moto would
        for region, backend in regions.items():
            dict.__setitem__(account, region, backend)


# -- S3 objects ------------------------------------------------------------------------------------
def s3_key_entity(account_id: str, bucket: str, key: str) -> str:
    return f"s3key/{account_id}/{bucket}/{key}"


def find_bucket(bucket: str):
    """(account id, moto's bucket) for a bucket name, or (None, None)."""
    for account_id, account in list(backend_dict("s3").items()):
        for backend in list(account.values()):
            found = backend.buckets.get(bucket)
            if found is not None:
                return account_id, found
    return None, None


def key_versions(bucket, key: str) -> bytes | None:
    """A key's versions (pickled), or None when the key is gone."""
    versions = bucket.keys.getlist(key)
    if not versions:
        return None
    return pickle.dumps(list(versions), protocol=PROTOCOL)


def load_key(key_stores: dict[tuple, object], account_id: str, bucket: str, key: str, data: bytes) -> bool:
    """Put a key's versions into the restored bucket's store; False when the bucket is not there."""
    store = key_stores.get((account_id, bucket))
    if store is None:
        return False
    store.setlist(key, pickle.loads(data))
    return True


def lambda_metric_datapoints(region: str) -> list[tuple[str, float, str, float]]:
    """``(function name, timestamp, metric name, value)`` of each ``AWS/Lambda`` datapoint with a
    ``FunctionName`` dimension in CloudWatch's restored state (the sandbox's own metrics, kept for the
    page again; CloudWatch's API has no call that returns datapoints as they were put)."""
    backend = backend_dict("cloudwatch")[ACCOUNT_ID][region]
    found = []
    for datum in getattr(backend, "metric_data", []):
        value = getattr(datum, "value", None)
        if datum.namespace != "AWS/Lambda" or value is None:
            continue
        function = next((d.value for d in datum.dimensions if d.name == "FunctionName"), None)
        if function is not None:
            when = datum.timestamp
            if when.tzinfo is None:  # moto's naive datetimes are UTC
                when = when.replace(tzinfo=timezone.utc)
            found.append((function, when.timestamp(), datum.name, float(value)))
    return found


# -- replayed requests (logs, metrics) -------------------------------------------------------------
def _replay_logs(request: dict) -> int | None:
    """CloudWatch Logs' appended requests, straight into moto's backend: the same calls its responses
    make, without a request's parsing (a tenth of the time; the log writes are most of what a restart
    replays). None: not one of these."""
    import json

    operation = dict(request.get("headers", [])).get("x-amz-target", "").rsplit(".", 1)[-1]
    if operation not in ("PutLogEvents", "CreateLogGroup", "CreateLogStream"):
        return None
    body = json.loads(request.get("body") or b"{}")
    backend = backend_dict("logs")[ACCOUNT_ID][request.get("region") or DEFAULT_REGION]
    group = body.get("logGroupName")
    if operation == "PutLogEvents":
        backend.put_log_events(group, body.get("logStreamName"), body.get("logEvents") or [])
    elif operation == "CreateLogGroup" and group not in backend.groups:
        backend.create_log_group(group, body.get("tags") or {}, kmsKeyId=body.get("kmsKeyId"))
    elif operation == "CreateLogStream" and body.get("logStreamName") not in backend.groups[group].streams:
        backend.create_log_stream(group, body.get("logStreamName"))
    return 200


def replay(service: str, request: dict) -> int:
    """Send a recorded request to moto's app for ``service`` (no middleware, no network): the status."""
    if service == "logs":
        status = _replay_logs(request)
        if status is not None:
            return status
    from werkzeug.test import Client

    response = Client(moto_app(service)).open(
        path=request["path"],
        method=request["method"],
        query_string=request.get("query", ""),
        headers=list(request.get("headers", [])),
        data=request.get("body", b""),
    )
    return response.status_code
