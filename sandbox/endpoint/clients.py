"""boto3 clients for the local endpoint: ``endpoint_client``, as a user's code makes one, and
``SharedClients``, the sandbox's own (its event sources, the page, ``sb.s3``): one per service, since a client
is thread-safe and a new one costs ~20 ms of CPU and a new connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

import boto3
from botocore.config import Config as BotoConfig

from sandbox.config import LOCAL_CREDENTIALS

RETRIES = {"max_attempts": 2, "mode": "standard"}
# Connections a shared client keeps open: every poller, source and page request may use one at once (a full
# pool opens a connection anyway and urllib3 warns on the terminal when it drops it).
SHARED_CLIENT_CONNECTIONS = 64


def endpoint_client(endpoint_url: str, region: str, service: str, validate: bool = True, **config):
    """A new boto3 client for ``service`` at ``endpoint_url``, with the sandbox's credentials."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        config=BotoConfig(retries=RETRIES, parameter_validation=validate, **config),
        **LOCAL_CREDENTIALS,
    )


class SharedClients:
    """``clients(service)``: the one client for ``service``, made on first use against ``endpoint_url()``;
    ``clear()`` when the endpoint stops (a restart listens on another port)."""

    def __init__(self, endpoint_url: Callable[[], str], region: str):
        self._endpoint_url = endpoint_url
        self._region = region
        self._clients: dict = {}
        self._lock = threading.Lock()  # boto3 builds clients unsafely across threads

    def __call__(self, service: str):
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    client = self._clients[service] = endpoint_client(
                        self._endpoint_url(),
                        self._region,
                        service,
                        max_pool_connections=SHARED_CLIENT_CONNECTIONS,
                    )
        return client

    def clear(self) -> None:
        self._clients.clear()
