"""The AWS API as deploy uses it: lookups, recorded changes, waits and retries, each failure one sentence."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.tools.deploy.aws_errors import DeployError, aws_failure
from sandbox.tools.deploy.printer import Printer
from sandbox.tools.deploy.report import Call, DeployReport, operation_name, unwrap_blobs

# AWS applies some changes a few seconds late (IAM and S3 are eventually consistent); deploy retries them
# this long apart, as AWS's own tools do.
RETRY_DELAY_S = 2


class Clients:
    """One client per service, from a boto3 Session, a Sandbox, a mapping or a function."""

    def __init__(self, source):
        if isinstance(source, Mapping):
            self._make: Callable[[str], Any] = lambda service: source[service]
        elif hasattr(source, "client") and callable(source.client):
            self._make = source.client
        elif callable(source):
            self._make = source
        else:
            raise TypeError(
                "deploy() takes a boto3 Session, a Sandbox, a mapping of service -> client, or a "
                "function service -> client"
            )
        self._cache: dict[str, Any] = {}

    def __call__(self, service: str):
        if service not in self._cache:
            try:
                self._cache[service] = self._make(service)
            except Exception as exc:
                raise aws_failure(exc, service, "client", None) from None
        return self._cache[service]

    def region(self) -> str:
        return self("lambda").meta.region_name


class Api:
    """Makes (or, in a dry run, prints) the calls, and records them in the report."""

    def __init__(
        self,
        clients: Callable[[str], Any],
        report: DeployReport,
        printer: Printer,
        verbose: bool,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._clients = clients
        self._report = report
        self._printer = printer
        self._verbose = verbose
        self._sleep = sleep

    @property
    def dry_run(self) -> bool:
        return self._report.dry_run

    def read(self, service: str, method: str, not_found: tuple[str, ...] = (), **params) -> dict | None:
        """A lookup. A dry run makes no call at all and treats everything as absent."""
        if self.dry_run:
            return None
        try:
            return self._send(service, method, params)
        except DeployError as exc:
            if exc.code in not_found:
                return None
            raise

    def call(self, service: str, method: str, **params) -> dict | None:
        """A change. A dry run prints it and returns None."""
        return self._change(Call(service, operation_name(method), params), method)

    def call_or_refusal(
        self, service: str, method: str, expected: Callable[[DeployError], bool], **params
    ) -> tuple[dict | None, DeployError | None]:
        """A change AWS may refuse in a way the caller expects: ``(response, None)``, or ``(None, refusal)``
        with the refused call left out of the report. Any other failure raises."""
        call = Call(service, operation_name(method), params)
        try:
            return self._change(call, method), None
        except DeployError as exc:
            if not expected(exc):
                raise
            self._report.withdraw(call)
            return None, exc

    def call_retrying(
        self, service: str, method: str, transient: Callable[[DeployError], bool], attempts: int, **params
    ) -> dict | None:
        """A change AWS may refuse for a few seconds after a related one: tried up to ``attempts`` times,
        RETRY_DELAY_S apart, while the refusal is ``transient``; only the attempt that counts is recorded."""
        for _ in range(attempts - 1):
            response, refusal = self.call_or_refusal(service, method, transient, **params)
            if refusal is None:
                return response
            self._sleep(RETRY_DELAY_S)
        return self.call(service, method, **params)

    def wait(self, waiter: str, **params) -> None:
        """AWS applies function changes asynchronously (State Pending, LastUpdateStatus InProgress); the next
        change is refused until the previous one is done. The sandbox (moto) answers Active/Successful at
        once, so callers skip the wait when the response says so."""
        if self.dry_run:
            return
        client = self._clients("lambda")
        try:
            client.get_waiter(waiter).wait(**params, WaiterConfig={"Delay": 2, "MaxAttempts": 150})
        except Exception as exc:
            raise aws_failure(exc, "lambda", waiter, None) from None

    def _change(self, call: Call, method: str) -> dict | None:
        self._report.record(call)
        if self.dry_run or self._verbose:
            self._printer.call(call)
        if self.dry_run:
            return None
        return self._send(call.service, method, call.params)

    def _send(self, service: str, method: str, params: dict) -> dict:
        client = self._clients(service)
        try:
            response = getattr(client, method)(**unwrap_blobs(params))
        except Exception as exc:
            raise aws_failure(
                exc, service, operation_name(method), getattr(client.meta, "endpoint_url", None)
            ) from None
        if isinstance(response, dict):
            response.pop("ResponseMetadata", None)
        return response
