"""Hooks on EventBridge's control plane, as moto serves it on the local endpoint.

A WSGI wrap around moto's ``events`` app (JSON 1.1 protocol: ``X-Amz-Target: AWSEvents.PutRule``) and
one around its ``scheduler`` app (REST-JSON: ``POST /schedules/<name>``):

- before moto stores a schedule expression, it is checked as AWS checks it, and refused in AWS's words
  and shape (moto accepts ``rate(1 minutes)`` or ``cron(0 3 * * * *)``);
- after a change succeeds (a rule or its targets put, removed, enabled, disabled; a schedule created,
  updated, deleted), ``changed()`` is told, so the clock re-reads the rules through the API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import unquote

from sandbox.event_sources.schedules.expressions import RULE_INVALID_MESSAGE, InvalidScheduleExpression, parse
from sandbox.wsgi import call, read_body  # moto's answer kept, to act on it first

RULE_ACTIONS = {"PutRule", "DeleteRule", "EnableRule", "DisableRule", "PutTargets", "RemoveTargets"}
_SCHEDULE_PATH = re.compile(r"^/schedules/(?P<name>[^/]+)/?$")
_GROUP_PATH = re.compile(r"^/schedule-groups/(?P<name>[^/]+)/?$")


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error(start_response, content_type: str, error_type: str, message: str, json_protocol: bool):
    body = {"__type": error_type, "message": message} if json_protocol else {"message": message}
    data = json.dumps(body).encode()
    start_response(
        "400 Bad Request",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("x-amzn-ErrorType", error_type),
        ],
    )
    return [data]


class RulesControlPlane:
    """EventBridge rules: ``aws events put-rule --schedule-expression ...`` and its companions."""

    def __init__(self, app, changed: Callable[[str, dict], None], report: Callable[[str], None]):
        self.app = app
        self.changed = changed
        self.report = report  # why an expression was refused, for the terminal (AWS's answer does not say)

    def __call__(self, environ, start_response):
        action = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        if action not in RULE_ACTIONS:
            return self.app(environ, start_response)
        request = _json(read_body(environ))
        expression = request.get("ScheduleExpression")
        if action == "PutRule" and expression:
            try:
                parse(expression)
            except InvalidScheduleExpression as exc:
                self.report(f"sandbox: PutRule {request.get('Name')!r} refused: {exc}")
                # AWS's whole answer; why it is invalid is not part of it.
                return _error(
                    start_response,
                    "application/x-amz-json-1.1",
                    "ValidationException",
                    RULE_INVALID_MESSAGE,
                    json_protocol=True,
                )
        captured = call(self.app, environ)
        if captured.code < 300:
            self.changed(action, request)
        return captured.replay(start_response)


class SchedulerControlPlane:
    """EventBridge Scheduler: ``aws scheduler create-schedule | update-schedule | delete-schedule`` (and
    ``delete-schedule-group``, which deletes its schedules)."""

    def __init__(self, app, changed: Callable[[str, dict], None], report: Callable[[str], None]):
        self.app = app
        self.changed = changed
        self.report = report  # why an expression was refused, for the terminal (AWS's answer does not say)

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        schedule = _SCHEDULE_PATH.match(path)
        group = _GROUP_PATH.match(path)
        if method not in ("POST", "PUT", "DELETE") or not (schedule or (group and method == "DELETE")):
            return self.app(environ, start_response)
        request = _json(read_body(environ))
        if schedule and method in ("POST", "PUT") and "ScheduleExpression" in request:
            try:
                parse(
                    request["ScheduleExpression"],
                    allow_at=True,
                    timezone=request.get("ScheduleExpressionTimezone"),
                )
            except InvalidScheduleExpression as exc:
                self.report(f"sandbox: schedule {unquote(schedule['name'])!r} refused: {exc}")
                return _error(
                    start_response,
                    "application/json",
                    "ValidationException",
                    f"Invalid Schedule Expression {request['ScheduleExpression']}",
                    json_protocol=False,
                )
        captured = call(self.app, environ)
        if captured.code < 300:
            name = unquote((schedule or group)["name"])
            self.changed("schedule" if schedule else "group", {"Name": name, **request})
        return captured.replay(start_response)
