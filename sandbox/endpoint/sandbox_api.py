"""The sandbox's own small HTTP API under ``/_sandbox/`` on the local endpoint (like LocalStack's
``/_localstack/health``), for ``run_local.py upload``, ``redrive``, ``invoke`` and ``fire-rule``:

- ``GET  /_sandbox/health``: ``{"status": "ready" | "starting", "functions": [...], "full_cpu": bool}``;
- ``GET  /_sandbox/triggers`` (every function's triggers), ``/_sandbox/schedules`` (with next fire times);
- ``GET  /_sandbox/invocations[?key=K][&request_id=R]``: every attempt (about key K, or of request R),
  newest first;
- ``POST /_sandbox/redrive[?function=F]``: re-submit the dead-lettered events of F;
- ``POST /_sandbox/schedules/fire?name=N[&kind=schedule&group=G]``: fire a scheduled rule now (409 with
  the reason when there is no such enabled rule).
"""

from __future__ import annotations

import json

from werkzeug.exceptions import BadRequest, Conflict, HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox.errors import SandboxError


class SandboxApi:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.routes = Map(
            [
                Rule("/_sandbox/health", endpoint="health", methods=["GET"]),
                Rule("/_sandbox/invocations", endpoint="invocations", methods=["GET"]),
                Rule("/_sandbox/redrive", endpoint="redrive", methods=["POST"]),
                Rule("/_sandbox/triggers", endpoint="triggers", methods=["GET"]),
                Rule("/_sandbox/schedules", endpoint="schedules", methods=["GET"]),
                Rule("/_sandbox/schedules/fire", endpoint="fire_schedule", methods=["POST"]),
            ]
        )

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            endpoint, _ = self.routes.bind_to_environ(environ).match()
            status, body = 200, getattr(self, endpoint)(request)
        except HTTPException as exc:
            status, body = (
                exc.code,
                {"error": f"{exc.name}: {request.method} {request.path}", "message": exc.description},
            )
        response = Response(json.dumps(body, default=str), status=status, mimetype="application/json")
        return response(environ, start_response)

    def health(self, request) -> dict:
        return {
            "status": "ready" if self.sandbox.running else "starting",
            "functions": [f.function_name for f in self.sandbox.functions()],
            "full_cpu": self.sandbox.config.full_cpu,
        }

    def invocations(self, request) -> dict:
        key, request_id = request.args.get("key"), request.args.get("request_id")
        return {
            "invocations": [
                r.as_dict()
                for r in self.sandbox.invocations()
                if (key is None or r.subject.get("key") == key)
                and (request_id is None or r.request_id == request_id)
            ]
        }

    def triggers(self, request) -> dict:
        return {"triggers": self.sandbox.triggers()}

    def redrive(self, request) -> dict:
        records = self.sandbox.redrive(request.args.get("function"))
        return {"redriven": [{"request_id": r.request_id, "key": r.subject.get("key")} for r in records]}

    def schedules(self, request) -> dict:
        return {"schedules": self.sandbox.schedules()}

    def fire_schedule(self, request) -> dict:
        if not request.args.get("name"):
            raise BadRequest(description="name= is required: the rule to fire.")
        try:
            records = self.sandbox.fire_rule(
                request.args["name"], request.args.get("kind", "rule"), request.args.get("group")
            )
        except SandboxError as exc:
            raise Conflict(description=str(exc)) from None
        return {"fired": [{"request_id": r.request_id, "function": r.function_name} for r in records]}
