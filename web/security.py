"""What keeps other web pages out of the sandbox's page.

- Host header check: a page on another site can point its own DNS name at 127.0.0.1 (DNS rebinding)
  and then read this page as "same origin". The browser still sends that name in ``Host``, so any
  request whose Host is not 127.0.0.1, localhost, [::1] (or the configured host) on our port gets 400.
- Same-origin check for state-changing requests (POST, PUT, PATCH, DELETE): they must carry the app's
  token in ``X-Sandbox-Token`` (a custom header a cross-site form cannot send, and a value a page from
  another origin cannot read), and, when the browser sends them, ``Origin`` must be this page's origin
  and ``Sec-Fetch-Site`` must be ``same-origin``. Otherwise 403.
- Response headers: a Content-Security-Policy that allows only this page's own scripts and styles
  (no inline script, so an escaped-but-unlucky string can never run), nosniff, no framing.
"""
from __future__ import annotations

import hmac

from flask import Flask, current_app, request

from .errors import ApiError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TOKEN_HEADER = "X-Sandbox-Token"

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
               "frame-ancestors 'none'")


def init_app(app: Flask) -> None:
    app.before_request(check_host)
    app.before_request(check_same_origin)
    app.after_request(add_security_headers)


def token() -> str:
    return current_app.extensions["sandbox_web_token"]


def split_host(value: str) -> tuple[str, int | None]:
    """``"[::1]:8000"`` -> ``("[::1]", 8000)``; ``"localhost"`` -> ``("localhost", None)``."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return value, None
        name, rest = value[:end + 1], value[end + 1:]
    elif value.count(":") == 1:
        name, rest = value.split(":", 1)
        rest = ":" + rest
    elif ":" in value:  # a bare IPv6 address without brackets is not a valid Host header
        return value, None
    else:
        name, rest = value, ""
    if not rest:
        return name, None
    if not rest.startswith(":") or not rest[1:].isdigit():
        return name, -1
    return name, int(rest[1:])


def normalise_name(name: str) -> str:
    name = name.strip().lower()
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"  # IPv6 literals appear bracketed in Host headers
    return name


def allowed_host_names(app: Flask) -> set[str]:
    return {*LOOPBACK_NAMES, *(normalise_name(h) for h in app.config.get("ALLOWED_HOSTS") or [])}


def check_host():
    name, port = split_host(request.headers.get("Host", ""))
    expected_port = current_app.config.get("WEB_PORT")
    if port is None:
        port = 443 if request.scheme == "https" else 80
    if name not in allowed_host_names(current_app) or (expected_port is not None and port != expected_port):
        where = f"http://127.0.0.1:{expected_port}/" if expected_port is not None else "http://127.0.0.1/"
        raise ApiError(400, f"This page answers only when reached at {where} (or localhost); the "
                            f"request named another host, which is how DNS-rebinding attacks look.")


def check_same_origin():
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(sent.encode(), token().encode()):
        raise ApiError(403, "This request did not come from the sandbox's own page (its token is missing "
                            "or stale); reload the page and try again.")
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/").lower() != request.host_url.rstrip("/").lower():
        raise ApiError(403, "Cross-origin request refused: only the sandbox's own page may change things.")
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site != "same-origin":
        raise ApiError(403, "Cross-site request refused: only the sandbox's own page may change things.")


def add_security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", PAGE_POLICY)
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
    return response
