"""Errors as one readable sentence: JSON ``{"error": ...}`` for the page's API, plain text otherwise.

Expected failures (bad input, a missing object, a too-large upload, the endpoint gone) never produce a
traceback; only a real bug is logged with one, and the page still gets a sentence.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from sandbox.errors import SandboxError


class ApiError(Exception):
    """An expected failure: an HTTP status and one sentence for the user."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SandboxError, _sandbox_error)
    app.register_error_handler(EndpointConnectionError, _endpoint_down)
    app.register_error_handler(ClientError, _client_error)
    app.register_error_handler(BotoCoreError, _client_error)
    app.register_error_handler(Exception, _unexpected)


def error_response(status: int, message: str):
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        response = jsonify(error=message, status=status)
    else:
        response = current_app.response_class(message + "\n", mimetype="text/plain")
    response.status_code = status
    return response


def too_large_message() -> str:
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    return (
        f"The upload is larger than the page's limit of {format_bytes(limit)}; upload a smaller file, "
        f"or start the sandbox with a larger --max-upload-mb."
    )


def format_bytes(count: int) -> str:
    if count >= 1024 * 1024:
        value = count / (1024 * 1024)
        return f"{value:.0f} MB" if value == int(value) else f"{value:.1f} MB"
    if count >= 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count} bytes"


def _api_error(exc: ApiError):
    return error_response(exc.status, exc.message)


def _too_large(exc):
    return error_response(413, too_large_message())


def _http_error(exc: HTTPException):
    messages = {
        404: "Nothing here: the page and its API live at / and /api/.",
        405: f"{request.method} is not allowed on {request.path}.",
    }
    return error_response(exc.code or 500, messages.get(exc.code, exc.description or exc.name))


def _sandbox_error(exc: SandboxError):
    return error_response(400, str(exc))


def _endpoint_down(exc):
    return error_response(
        503, "The sandbox's local AWS endpoint is not answering; is the sandbox still running?"
    )


def _client_error(exc):
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, text = error.get("Code", "Error"), error.get("Message", "")
        status = 404 if code in ("NoSuchKey", "NoSuchBucket", "404") else 502
        return error_response(status, f"The local AWS endpoint answered {code}: {text}".rstrip(": ") + ".")
    return error_response(502, f"The request to the local AWS endpoint failed: {exc}.")


def _unexpected(exc: Exception):
    current_app.logger.exception("Unexpected error on %s %s", request.method, request.path)
    return error_response(500, f"The page's server hit an unexpected error ({type(exc).__name__}: {exc}).")
