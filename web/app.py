"""The page's Flask app factory: ``create_app(sandbox, config=None)``.

The app is a thin view over one :class:`sandbox.core.Sandbox`, built elsewhere and passed in (kept in
``app.extensions["sandbox"]``). Everything the page shows comes from the sandbox's public methods (its
invocation records and log lines, through the change feed in feed.py) or from the local AWS endpoint
through boto3, as any client would see it. The page is told of changes (``/api/feed``); it never polls.

Config keys (all optional):
- ``MAX_UPLOAD_BYTES``: largest file the page accepts (default 25 MB; the CLI's ``--max-upload-mb``).
- ``ALLOWED_HOSTS``: extra host names accepted in the ``Host`` header besides 127.0.0.1, localhost
  and [::1] (DNS-rebinding protection); the server adds the host it is bound to.
- ``WEB_PORT``: the port the page is served on; :class:`web.server.WebServer` sets it once bound.
  ``None`` (the test client) accepts any port.
- ``SAMPLE_IMAGES_DIR``: the folder the "Upload sample images" button reads (``sample_images/``).
"""
from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask

from sandbox.errors import ConfigError

from web import errors, security
from web.views import register_blueprints

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
# multipart/form-data wraps a file in boundaries and part headers; allow that much above the file limit
# for the request as a whole, then check each file's own size.
MULTIPART_OVERHEAD_BYTES = 64 * 1024

DEFAULT_CONFIG = {
    "MAX_UPLOAD_BYTES": 25 * MB,
    "ALLOWED_HOSTS": [],
    "WEB_PORT": None,
    "SAMPLE_IMAGES_DIR": PROJECT_ROOT / "sample_images",
}


def create_app(sandbox, config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(DEFAULT_CONFIG)
    app.config.update(config or {})
    app.config["ALLOWED_HOSTS"] = list(app.config["ALLOWED_HOSTS"] or [])
    limit = app.config["MAX_UPLOAD_BYTES"]
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0:
        raise ConfigError(f"The page's upload limit (--max-upload-mb) must be a positive size; got {limit!r} bytes.")
    app.config["MAX_UPLOAD_BYTES"] = int(limit)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_UPLOAD_BYTES"]) + MULTIPART_OVERHEAD_BYTES
    app.json.sort_keys = False
    app.extensions["sandbox"] = sandbox
    # A per-app secret the page sends back in a header on every state-changing request; a page from
    # another origin cannot read it (see security.py).
    app.extensions["sandbox_web_token"] = secrets.token_urlsafe(32)
    security.init_app(app)
    errors.init_app(app)
    register_blueprints(app)
    return app
