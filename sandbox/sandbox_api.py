"""The sandbox's own small HTTP API under ``/_sandbox/`` on the local endpoint (like LocalStack's
``/_localstack/health``), for ``run_local.py upload``, ``redrive`` and ``invoke``:

- ``GET  /_sandbox/health``: ``{"status": "ready" | "starting", "functions": [...], "full_cpu": bool}``
- ``GET  /_sandbox/invocations[?key=K]``: every attempt, newest first (only those about key K)
- ``POST /_sandbox/redrive[?function=F]``: re-submit the dead-lettered events of F
"""
from __future__ import annotations

import json

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response


class SandboxApi:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.routes = Map([
            Rule("/_sandbox/health", endpoint="health", methods=["GET"]),
            Rule("/_sandbox/invocations", endpoint="invocations", methods=["GET"]),
            Rule("/_sandbox/redrive", endpoint="redrive", methods=["POST"]),
        ])

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            endpoint, _ = self.routes.bind_to_environ(environ).match()
            status, body = 200, getattr(self, endpoint)(request)
        except HTTPException as exc:
            status, body = exc.code, {"error": f"{exc.name}: {request.method} {request.path}"}
        response = Response(json.dumps(body, default=str), status=status, mimetype="application/json")
        return response(environ, start_response)

    def health(self, request) -> dict:
        return {"status": "ready" if self.sandbox.running else "starting",
                "functions": [f.function_name for f in self.sandbox.functions()],
                "full_cpu": self.sandbox.config.full_cpu}

    def invocations(self, request) -> dict:
        key = request.args.get("key")
        return {"invocations": [r.as_dict() for r in self.sandbox.invocations()
                                if key is None or r.subject.get("key") == key]}

    def redrive(self, request) -> dict:
        records = self.sandbox.redrive(request.args.get("function"))
        return {"redriven": [{"request_id": r.request_id, "key": r.subject.get("key")} for r in records]}
