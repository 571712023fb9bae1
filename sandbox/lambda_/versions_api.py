"""Lambda's version and alias operations through the local endpoint: checked as Lambda checks them, stored
by moto, and run by the sandbox (versions.py).

``publish-version`` (its ``CodeSha256`` condition), ``create-alias`` / ``update-alias`` (routing
configuration, ``RevisionId``), ``delete-alias`` and ``delete-function --qualifier`` are answered with
Lambda's codes and messages before moto stores anything; ``list-versions-by-function``, ``get-alias`` and
``list-aliases`` are moto's answers.
"""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs

from sandbox.lambda_.validation import LambdaApiError
from sandbox.lambda_.versions import (
    LATEST,
    Alias,
    alias_name_problem,
    is_version,
    not_found,
    routing_problem,
)
from sandbox.wsgi import call, read_body


def _moto_get(app, environ, path: str):
    """moto's answer to a GET of ``path`` (what it holds now), asked on the request's behalf."""
    copy = {k: v for k, v in environ.items() if k not in ("RAW_URI", "REQUEST_URI")}
    copy.update(REQUEST_METHOD="GET", PATH_INFO=path, QUERY_STRING="", CONTENT_LENGTH="0")
    copy["wsgi.input"] = io.BytesIO(b"")
    return call(app, copy)


def _without_empty_routing(environ, request: dict) -> None:
    """``RoutingConfig`` with no weights is no routing configuration: the alias then has none (moto would
    keep and answer the empty map)."""
    routing = request.get("RoutingConfig")
    if routing is not None and not (routing or {}).get("AdditionalVersionWeights"):
        request["RoutingConfig"] = {}
        body = json.dumps(request).encode()
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))


def _body(environ) -> dict:
    try:
        data = json.loads(read_body(environ) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class VersionsApi:
    def __init__(self, app, hooks):
        self.app = app
        self.hooks = hooks

    def route(self, name: str, method: str, rest: str, environ, start_response):
        alias_name = rest[len("/aliases/") :] if rest.startswith("/aliases/") else None
        if rest == "/versions" and method == "POST":
            return self._publish(name, environ, start_response)
        if rest == "/aliases" and method == "POST":
            return self._create_alias(name, environ, start_response)
        if alias_name and method == "PUT":
            return self._update_alias(name, alias_name, environ, start_response)
        if alias_name and method == "DELETE":
            return self._delete_alias(name, alias_name, environ, start_response)
        if alias_name and method == "GET" and self.hooks.alias(name, alias_name) is None:
            raise self._no_alias(name, alias_name)
        wanted = parse_qs(environ.get("QUERY_STRING", "")).get("FunctionVersion")
        if rest == "/aliases" and method == "GET" and wanted:  # list-aliases --function-version
            captured = call(self.app, environ)
            if captured.code < 300:
                found = captured.json()
                found["Aliases"] = [
                    a for a in found.get("Aliases", []) if a.get("FunctionVersion") == wanted[0]
                ]
                captured.body = json.dumps(found).encode()
                captured.headers = [(k, v) for k, v in captured.headers if k.lower() != "content-length"]
                captured.headers.append(("Content-Length", str(len(captured.body))))
            return captured.replay(start_response)
        return self.app(environ, start_response)

    def _arn(self, name: str, qualifier: str | None = None) -> str:
        return self.hooks.function_arn(name, qualifier)

    def _no_alias(self, name: str, alias_name: str) -> LambdaApiError:
        return LambdaApiError(
            404, "ResourceNotFoundException", f"Cannot find alias arn: {self._arn(name, alias_name)}"
        )

    def _version_exists(self, name: str, version: str) -> bool:
        return version == LATEST or (is_version(version) and self.hooks.knows_qualifier(name, version))

    # -- publish-version -------------------------------------------------------------------------------
    def _publish(self, name, environ, start_response):
        request = _body(environ)
        wanted = request.get("CodeSha256")
        if wanted:
            current = _moto_get(self.app, environ, environ["PATH_INFO"].rsplit("/", 1)[0] + "/configuration")
            sha = (current.json() or {}).get("CodeSha256") if current.code < 300 else None
            if sha and sha != wanted:
                raise LambdaApiError(
                    400,
                    "InvalidParameterValueException",
                    f"CodeSHA256 ({wanted}) is different from current CodeSHA256 in $LATEST ({sha}). "
                    "Please try again with the CodeSHA256 in $LATEST.",
                )
        captured = call(self.app, environ)
        if captured.code < 300:
            version = str((captured.json() or {}).get("Version") or "")
            if is_version(version):
                self.hooks.version_published(name, version)
        return captured.replay(start_response)

    # -- delete-function --qualifier -------------------------------------------------------------------
    def delete_version(self, name, qualifier, environ, start_response):
        if qualifier == LATEST:
            raise LambdaApiError(
                400,
                "InvalidParameterValueException",
                "$LATEST version cannot be deleted without deleting the function.",
            )
        if not is_version(qualifier):
            raise LambdaApiError(
                400, "InvalidParameterValueException", "Deletion of aliases is not currently supported."
            )
        referencing = self.hooks.aliases_of_version(name, qualifier)
        if referencing:
            raise LambdaApiError(
                409,
                "ResourceConflictException",
                "Unable to delete version because the following aliases reference it: "
                f"[{', '.join(referencing)}]",
            )
        if not self.hooks.knows_qualifier(name, qualifier):  # Lambda answers success and changes nothing
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        captured = call(self.app, environ)
        if captured.code < 300:
            self.hooks.version_deleted(name, qualifier)
        return captured.replay(start_response)

    # -- aliases ----------------------------------------------------------------------------------------
    def _check_target(self, name: str, version: str, weights: dict) -> None:
        if not self._version_exists(name, version):
            raise not_found(self._arn(name, version))
        routing_problem(
            version, weights, lambda v: self._version_exists(name, v), lambda v: self._arn(name, v)
        )

    def _create_alias(self, name, environ, start_response):
        request = _body(environ)
        alias_name = str(request.get("Name") or "")
        alias_name_problem(alias_name)
        if self.hooks.alias(name, alias_name) is not None:
            raise LambdaApiError(
                409, "ResourceConflictException", f"Alias already exists: {self._arn(name, alias_name)}"
            )
        weights = ((request.get("RoutingConfig") or {}).get("AdditionalVersionWeights")) or {}
        self._check_target(name, str(request.get("FunctionVersion") or ""), weights)
        _without_empty_routing(environ, request)
        captured = call(self.app, environ)
        if captured.code < 300:
            self.hooks.alias_changed(name, Alias.from_api(captured.json()))
        return captured.replay(start_response)

    def _update_alias(self, name, alias_name, environ, start_response):
        alias = self.hooks.alias(name, alias_name)
        if alias is None:
            raise self._no_alias(name, alias_name)
        request = _body(environ)
        revision = request.get("RevisionId")
        if revision and alias.revision_id and revision != alias.revision_id:
            raise LambdaApiError(
                412,
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id",
            )
        version = str(request.get("FunctionVersion") or alias.function_version)
        weights = (
            (request.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            if "RoutingConfig" in request
            else alias.weights
        )
        self._check_target(name, version, weights)
        _without_empty_routing(environ, request)
        captured = call(self.app, environ)
        if captured.code < 300:
            self.hooks.alias_changed(name, Alias.from_api(captured.json()))
            captured.status = "200 OK"  # Lambda's answer (moto: 201)
        return captured.replay(start_response)

    def _delete_alias(self, name, alias_name, environ, start_response):
        if self.hooks.alias(name, alias_name) is None:
            raise self._no_alias(name, alias_name)
        captured = call(self.app, environ)
        if captured.code >= 300:
            return captured.replay(start_response)
        self.hooks.alias_deleted(name, alias_name)
        start_response("204 No Content", [("Content-Length", "0")])  # Lambda's answer (moto: 201 "{}")
        return [b""]
