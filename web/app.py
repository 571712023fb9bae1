"""The page's Flask app factory: ``create_app(sandbox, config=None)``.

A thin view over one sandbox (kept in ``app.extensions["sandbox"]``): what the page shows comes from the
sandbox's public methods, through the change feed (``/api/feed``; the page never polls), or from the
local AWS endpoint through boto3. Config keys, all optional: ``MAX_UPLOAD_BYTES`` (default 25 MB),
``ALLOWED_HOSTS`` (host names accepted besides the loopback ones), ``WEB_PORT`` (set by
:class:`web.server.WebServer` once bound; ``None`` accepts any port), ``SAMPLE_IMAGES_DIR``.
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
        raise ConfigError(
            f"The page's upload limit (--max-upload-mb) must be a positive size; got {limit!r} bytes."
        )
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
