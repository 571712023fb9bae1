"""The page itself: one HTML document; its scripts fetch everything else from /api/."""

from __future__ import annotations

from pathlib import PurePath

from flask import Blueprint, current_app, render_template

from web import context, security
from web.errors import format_bytes

FIRST_PAGE = 30  # the gallery's first page (gallery.js asks for as many): enough to fill a large screen

bp = Blueprint("pages", __name__)


def stacks(sb) -> list[dict]:
    """The applications the sandbox runs, as the header names them: ``[{"name", "template"}]`` (the
    template's file name), none when it runs the guide's stack."""
    try:
        found = sb.applications()
    except Exception:  # the header then names the guide's stack
        return []
    return [{"name": a["name"], "template": PurePath(a.get("template") or "").name} for a in found]


@bp.get("/")
def index():
    sb = context.sandbox()
    fn = context.function()
    limit = int(current_app.config["MAX_UPLOAD_BYTES"])
    response = current_app.make_response(
        render_template(
            "web/index.html",
            token=security.token(),
            function=fn,
            function_count=len({f.function_name for f in sb.functions()} | {fn.function_name}),
            stacks=stacks(sb),
            config=sb.config,
            endpoint_url=sb.endpoint_url,
            log_group=context.log_group(),
            max_upload_bytes=limit,
            max_upload_text=format_bytes(limit),
            first_page=FIRST_PAGE,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response
