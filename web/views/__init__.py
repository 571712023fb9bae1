"""The page's blueprints: the HTML page and one JSON API module per tab."""
from __future__ import annotations

from flask import Flask

from . import configuration, cost, dead_letters, gallery, invocations, logs, pages, status


def register_blueprints(app: Flask) -> None:
    for module in (pages, status, gallery, logs, invocations, configuration, cost, dead_letters):
        app.register_blueprint(module.bp)
