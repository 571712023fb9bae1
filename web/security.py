"""What keeps other web pages out of the sandbox's page.

Host header check (DNS rebinding), ``OPTIONS`` refused and fetch metadata checked as on the endpoint,
the app's token in ``X-Sandbox-Token`` plus a same-origin ``Origin`` for state-changing requests, the
network token (kept in an HttpOnly cookie) when the sandbox is shared beyond loopback, and response
headers: a script-only-from-here Content-Security-Policy, nosniff, no framing.

The rules and why each exists: docs/access-rules.md.
"""

from __future__ import annotations

import hmac

from flask import Flask, current_app, request

from sandbox.host_names import LOOPBACK_NAMES, is_loopback_address, normalise_name, split_host
from web.errors import ApiError

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TOKEN_HEADER = "X-Sandbox-Token"

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    app.before_request(check_host)
    app.before_request(check_network_token)
    app.before_request(check_fetch_metadata)
    app.before_request(check_same_origin)
    app.after_request(add_security_headers)


def token() -> str:
    return current_app.extensions["sandbox_web_token"]


def allowed_host_names(app: Flask) -> set[str]:
    return {*LOOPBACK_NAMES, *(normalise_name(h) for h in app.config.get("ALLOWED_HOSTS") or [])}


def check_host():
    name, port = split_host(request.headers.get("Host", ""))
    expected_port = current_app.config.get("WEB_PORT")
    if port is None:
        port = 443 if request.scheme == "https" else 80
    if name not in allowed_host_names(current_app) or (expected_port is not None and port != expected_port):
        where = f"http://127.0.0.1:{expected_port}/" if expected_port is not None else "http://127.0.0.1/"
        raise ApiError(
            400,
            f"This page answers only when reached at {where} (or localhost); the "
            f"request named another host, which is how DNS-rebinding attacks look.",
        )


ACCESS_COOKIE = "sandbox_access"


def check_network_token():
    """Another machine reaches the page only with the sandbox's access token (see the module docstring)."""
    sandbox = current_app.extensions["sandbox"]
    access = getattr(sandbox, "access", None)
    expected = getattr(access, "access_token", None)
    this_machine = getattr(access, "this_machine", is_loopback_address)
    if not expected or this_machine(request.remote_addr or ""):
        return None
    offered = request.args.get("token") or request.cookies.get(ACCESS_COOKIE) or ""
    if not hmac.compare_digest(offered.encode(), expected.encode()):
        raise ApiError(
            403,
            "This sandbox is shared on the network: open the page once as "
            "http://<this address>:<port>/?token=<access token> (printed where the sandbox "
            "was started).",
        )
    if request.args.get("token"):
        from flask import redirect

        response = redirect(request.path)
        response.set_cookie(ACCESS_COOKIE, expected, httponly=True, samesite="Strict")
        return response
    return None


def check_fetch_metadata():
    """OPTIONS is never served; another page may only navigate to this one (see the module docstring)."""
    if request.method == "OPTIONS":
        raise ApiError(405, "OPTIONS is not served: the page answers no cross-origin request.")
    origin = request.headers.get("Origin")
    foreign_origin = origin is not None and origin.rstrip("/").lower() != request.host_url.rstrip("/").lower()
    from_a_page = request.headers.get("Sec-Fetch-Site") in ("same-site", "cross-site")
    if not (foreign_origin or from_a_page):
        return
    navigation = (
        request.method in ("GET", "HEAD")
        and request.headers.get("Sec-Fetch-Mode") == "navigate"
        and request.headers.get("Sec-Fetch-Dest") in ("document", None)
        and not foreign_origin
    )
    if navigation and not request.path.startswith("/api/"):
        return
    kind = "Cross-origin" if foreign_origin else "Cross-site"
    raise ApiError(403, f"{kind} request refused: only the sandbox's own page may use it.")


def check_same_origin():
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(sent.encode(), token().encode()):
        raise ApiError(
            403,
            "This request did not come from the sandbox's own page (its token is missing "
            "or stale); reload the page and try again.",
        )
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
