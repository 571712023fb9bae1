"""The page's blueprints: the HTML page, its change feed and one JSON API module per tab."""

from __future__ import annotations

from flask import Flask

from web.views import (
    applications,
    configuration,
    cost,
    dead_letters,
    feed,
    functions,
    gallery,
    invocations,
    logs,
    monitor,
    pages,
    status,
    test_events,
    traces,
    triggers,
)


def register_blueprints(app: Flask) -> None:
    for module in (
        pages,
        status,
        feed,
        gallery,
        logs,
        invocations,
        configuration,
        cost,
        dead_letters,
        triggers,
        applications,
        functions,
        test_events,
        monitor,
        traces,
    ):
        app.register_blueprint(module.bp)
