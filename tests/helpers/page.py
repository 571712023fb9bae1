"""The page's Flask app over a sandbox, with requests sent as the browser sends them to the served page."""

from __future__ import annotations

from flask.testing import FlaskClient

from web.app import create_app

PORT = 8000


BASE = f"http://127.0.0.1:{PORT}"


class LocalClient(FlaskClient):
    """Requests as the browser sends them to the served page: Host 127.0.0.1:8000."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", BASE)
        return super().open(*args, **kwargs)


def local_app(sb, **config):
    app = create_app(sb, {"WEB_PORT": PORT, **config})
    app.test_client_class = LocalClient
    return app
