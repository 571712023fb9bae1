"""The sandbox's web page: a Flask app over one Sandbox object (see web/app.py and web/server.py)."""

from web.app import create_app

__all__ = ["create_app"]
