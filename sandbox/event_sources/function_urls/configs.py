"""Function URL configurations: Lambda's ``create-``, ``get-``, ``update-``, ``delete-function-url-config``
and ``list-function-url-configs``, answered here (moto's copy updates neither ``InvokeMode`` nor a missing
configuration, and lists none) and kept in the state directory when there is one.

``FunctionUrl`` is the local form of AWS's ``https://<url-id>.lambda-url.<region>.on.aws/``:
``http://<url-id>.lambda-url.localhost:<port>/`` (the package, __init__.py, serves it).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from sandbox.wsgi import read_body

HOST_SUFFIX = ".lambda-url.localhost"
_URL_PATH = re.compile(r"^/(?P<version>[^/]+)/functions/(?P<name>[^/]+)/(?P<kind>urls?)/?$")
_METHODS = {"GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*"}
_STATE = "function-urls"


class UrlConfigError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class UrlConfig:
    url_id: str
    function_name: str
    function_arn: str
    auth_type: str
    cors: dict | None
    invoke_mode: str
    created: str
    modified: str

    def describe(self, port: str) -> dict:
        """As Lambda's API answers (CreationTime and LastModifiedTime in its ISO 8601 form)."""
        found = {
            "FunctionUrl": f"http://{self.url_id}{HOST_SUFFIX}:{port}/",
            "FunctionArn": self.function_arn,
            "AuthType": self.auth_type,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "InvokeMode": self.invoke_mode,
        }
        if self.cors:
            found["Cors"] = self.cors
        return found


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def check_request(request: dict, creating: bool) -> None:
    """Lambda's checks of a create/update request (raises UrlConfigError)."""
    auth = request.get("AuthType")
    if (creating or auth is not None) and auth not in ("NONE", "AWS_IAM"):
        raise UrlConfigError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{auth}' at "
            f"'authType' failed to satisfy constraint: Member must satisfy enum value set: "
            f"[NONE, AWS_IAM]",
        )
    mode = request.get("InvokeMode")
    if mode not in (None, "BUFFERED", "RESPONSE_STREAM"):
        raise UrlConfigError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{mode}' at "
            f"'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: "
            f"[BUFFERED, RESPONSE_STREAM]",
        )
    cors = request.get("Cors") or {}
    if not isinstance(cors, dict):
        raise UrlConfigError(400, "ValidationException", "Cors must be an object.")
    bad = [m for m in cors.get("AllowMethods") or [] if str(m).upper() not in _METHODS]
    if bad:
        raise UrlConfigError(
            400,
            "ValidationException",
            f"Cors.AllowMethods: {bad[0]} is not an HTTP method (GET, PUT, HEAD, POST, PATCH, DELETE or *).",
        )
    age = cors.get("MaxAge")
    if age is not None and not (isinstance(age, int) and 0 <= age <= 86400):
        raise UrlConfigError(
            400, "ValidationException", "Cors.MaxAge must be a whole number of seconds from 0 to 86400."
        )


class UrlConfigs:
    """The function URLs, by function name and by URL id."""

    def __init__(self, state=None):
        self._state = state
        self._lock = threading.Lock()
        self._by_function: dict[str, UrlConfig] = {}

    def restore(self) -> None:
        """The URLs the state directory kept (once it is open, when the sandbox starts)."""
        saved = (self._state.load(_STATE) if self._state is not None else None) or {}
        with self._lock:
            self._by_function = {name: UrlConfig(**value) for name, value in saved.items()}

    def of_function(self, name: str) -> UrlConfig | None:
        return self._by_function.get(name)

    def by_id(self, url_id: str) -> UrlConfig | None:
        return next((c for c in list(self._by_function.values()) if c.url_id == url_id), None)

    def all(self) -> list[UrlConfig]:
        return list(self._by_function.values())

    def create(self, name: str, arn: str, request: dict) -> UrlConfig:
        with self._lock:
            if name in self._by_function:
                raise UrlConfigError(
                    409,
                    "ResourceConflictException",
                    f"Failed to create function url config "
                    f"for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for "
                    f"this Lambda function",
                )
            now = _now()
            # AWS's url id: 32 lower-case letters and digits.
            config = UrlConfig(
                secrets.token_hex(16),
                name,
                arn,
                request["AuthType"],
                request.get("Cors") or None,
                request.get("InvokeMode") or "BUFFERED",
                now,
                now,
            )
            self._by_function[name] = config
            self._save()
        return config

    def update(self, name: str, request: dict) -> UrlConfig:
        with self._lock:
            config = self.existing(name)
            if "AuthType" in request:
                config.auth_type = request["AuthType"]
            if "Cors" in request:
                config.cors = request["Cors"] or None
            if "InvokeMode" in request:
                config.invoke_mode = request["InvokeMode"]
            config.modified = _now()
            self._save()
        return config

    def delete(self, name: str) -> None:
        with self._lock:
            self.existing(name)
            del self._by_function[name]
            self._save()

    def forget_function(self, name: str) -> None:
        """The function was deleted: its URLs (its own and its aliases') go with it, as on AWS."""
        with self._lock:
            gone = [key for key in self._by_function if key == name or key.startswith(f"{name}:")]
            for key in gone:
                del self._by_function[key]
            if gone:
                self._save()

    def forget_alias(self, name: str, alias: str) -> None:
        """The alias was deleted: its URL goes with it, as on AWS."""
        with self._lock:
            if self._by_function.pop(f"{name}:{alias}", None) is not None:
                self._save()

    def existing(self, name: str) -> UrlConfig:
        config = self._by_function.get(name)
        if config is None:
            raise UrlConfigError(
                404, "ResourceNotFoundException", "The resource you requested does not exist."
            )
        return config

    def _save(self) -> None:
        if self._state is not None:
            self._state.save(_STATE, {name: asdict(c) for name, c in self._by_function.items()})


class UrlConfigApi:
    """Around Lambda's API (inside the sandbox's Lambda interceptor, which has validated the request)."""

    def __init__(
        self, app, configs: UrlConfigs, function_arn: Callable[[str], str | None], port: Callable[[], str]
    ):
        """``function_arn(name)``: the function's ARN, or None when it does not exist; ``port()``: the
        endpoint's port, for the URLs."""
        self.app = app
        self.configs = configs
        self.function_arn = function_arn
        self.port = port

    def __call__(self, environ, start_response):
        match = _URL_PATH.match(environ.get("PATH_INFO", ""))
        if match is None:
            return self.app(environ, start_response)
        from sandbox.lambda_.validation import LambdaApiError
        from sandbox.lambda_.versions import split_reference

        method = environ.get("REQUEST_METHOD", "GET")
        try:
            name, qualifier = split_reference(match.group("name"), _query(environ).get("Qualifier"))
            if qualifier not in (None, "", "$LATEST"):
                # An alias has its own URL, which runs the alias's version: its configuration is kept
                # under ``name:alias``, the reference the Lambda service runs.
                if qualifier.isdigit():
                    raise UrlConfigError(
                        400,
                        "ValidationException",
                        f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy "
                        "constraint: Member must satisfy regular expression pattern: "
                        "((?!^\\d+$)^[0-9a-zA-Z-_]+$)|(^\\$LATEST$)",
                    )
                name = f"{name}:{qualifier}"
            status, body = self._answer(method, match.group("kind"), name, environ)
        except LambdaApiError as exc:
            return _json(
                start_response,
                exc.status,
                {"Type": "User", "message": exc.message},
                [("x-amzn-ErrorType", exc.code)],
            )
        except UrlConfigError as exc:
            return _json(
                start_response,
                exc.status,
                {"Type": "User", "message": exc.message},
                [("x-amzn-ErrorType", exc.code)],
            )
        return _json(start_response, status, body)

    def _answer(self, method: str, kind: str, name: str, environ) -> tuple[int, Any]:
        arn = self.function_arn(name)
        if arn is None:
            raise UrlConfigError(404, "ResourceNotFoundException", f"Function not found: {name}")
        if kind == "urls":
            if method != "GET":
                raise UrlConfigError(405, "MethodNotAllowedException", "list-function-url-configs is a GET.")
            found = self.configs.of_function(name)
            return 200, {"FunctionUrlConfigs": [found.describe(self.port())] if found else []}
        if method == "GET":
            return 200, self._described(self.configs.existing(name))
        if method == "DELETE":
            self.configs.delete(name)
            return 204, None
        request = _request(environ)
        check_request(request, creating=method == "POST")
        if method == "POST":
            created = self.configs.create(name, arn, request).describe(self.port())
            created.pop("LastModifiedTime")
            return 201, created
        if method == "PUT":
            return 200, self._described(self.configs.update(name, request))
        raise UrlConfigError(
            405, "MethodNotAllowedException", f"{method} is not an operation on a function URL."
        )

    def _described(self, config: UrlConfig) -> dict:
        return config.describe(self.port())


def _query(environ) -> dict:
    return {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _request(environ) -> dict:
    try:
        request = json.loads(read_body(environ) or b"{}")
    except ValueError:
        raise UrlConfigError(
            400, "InvalidRequestContentException", "The request body is not valid JSON."
        ) from None
    if not isinstance(request, dict):
        raise UrlConfigError(400, "InvalidRequestContentException", "The request body must be a JSON object.")
    return request


def _json(start_response, status: int, body, headers: list | None = None):
    data = b"" if body is None else json.dumps(body).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))] + (headers or []),
    )
    return [data]
