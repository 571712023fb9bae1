"""The applications made from templates, as the Configuration tab shows them: each stack with its
functions, each function's triggers, and the stack's Outputs (AWS's URLs already made local by the
sandbox, ``https://abc.execute-api.us-east-1.amazonaws.com/Prod/`` served as
``http://abc.execute-api.localhost:4566/Prod/``).

Pure functions over ``SandboxView.applications()``; they only make its answer JSON-safe and say which
values the page may make links of.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

# Only these become links. An output is whatever string the template's author wrote: a ``javascript:``
# or ``data:`` value is shown as text, never followed.
LINKABLE = re.compile(r"https?://[^\s\"'<>\\]+", re.IGNORECASE)


def link(value) -> str | None:
    """``value`` when it is an http(s) URL the page may link to, else None."""
    return value if isinstance(value, str) and LINKABLE.fullmatch(value) else None


def _iso(epoch) -> str | None:
    if not isinstance(epoch, (int, float)) or isinstance(epoch, bool):
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="seconds")


def application_view(application: dict) -> dict:
    """One stack as the page shows it: ``describe()``'s answer (paths and other objects as text), with
    ``created`` (ISO time), ``url`` on each output (None unless it is a link) and only linkable ``urls``
    on each trigger."""
    view = json.loads(json.dumps(application, default=str))
    view["created"] = _iso(application.get("created_at"))
    for output in view.get("outputs") or []:
        output["url"] = link(output.get("value"))
    for function in view.get("functions") or []:
        for trigger in function.get("triggers") or []:
            trigger["urls"] = [url for url in trigger.get("urls") or [] if link(url)]
    return view


def applications_view(applications: list[dict]) -> list[dict]:
    return [application_view(application) for application in applications]
