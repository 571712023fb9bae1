"""The handler's settings (environment variables), read from ``SETTINGS`` in the settings.py beside it.

The handler keeps its settings in one table, ``handler/settings.py``, which it imports for its defaults.
The page reads that same table as data (``ast.literal_eval`` of the one assignment), without running any
of the deployed code, so the Configuration tab always shows the settings of the code actually deployed.
A handler without such a table gets the plain environment-variable editor, as in the console.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sandbox.config import RESERVED_ENV_KEYS

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
SETTINGS_MODULE = "settings.py"  # beside the handler's module
SETTINGS_NAME = "SETTINGS"


@dataclass(frozen=True)
class HandlerSetting:
    name: str
    default: str  # "" when unset by default
    default_text: str  # what the page shows as the default ("" shows as unset)
    allowed: str
    meaning: str
    choices: list = field(default_factory=list)  # filled when the allowed values are a closed list

    def as_dict(self) -> dict:
        return asdict(self)


def settings_source(code_dir: Path, handler: str) -> Path:
    """``lambda_function.lambda_handler`` -> ``<code_dir>/settings.py`` (beside the handler's module)."""
    module = handler.rsplit(".", 1)[0]
    return Path(code_dir, *module.split(".")).with_suffix(".py").with_name(SETTINGS_MODULE)


_cache: dict[Path, tuple[float, list[HandlerSetting]]] = {}


def read_handler_settings(code_dir: Path, handler: str) -> list[HandlerSetting]:
    path = settings_source(code_dir, handler)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return []
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        settings = parse_settings_table(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        settings = []
    _cache[path] = (mtime, settings)
    return settings


def parse_settings_table(source: str) -> list[HandlerSetting]:
    """The rows of the module-level ``SETTINGS = [...]`` literal in ``source``: dicts with ``name``,
    ``default``, ``allowed``, ``meaning`` and optionally ``choices``. Nothing in ``source`` is run; a
    table that is not a plain literal reads as no table, a row that is not a setting is left out."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == SETTINGS_NAME
        ):
            try:
                rows = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return []
            return [
                setting
                for setting in map(_setting, rows if isinstance(rows, (list, tuple)) else [])
                if setting is not None
            ]
    return []


def _setting(row) -> HandlerSetting | None:
    if not isinstance(row, dict):
        return None
    name = row.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED_ENV_KEYS:
        return None  # e.g. AWS_LAMBDA_FUNCTION_MEMORY_SIZE: Lambda sets it, the user cannot
    text = {key: str(row.get(key) or "") for key in ("default", "allowed", "meaning")}
    choices = row.get("choices") or []
    if not isinstance(choices, (list, tuple)):
        choices = []
    return HandlerSetting(
        name=name,
        default=text["default"],
        default_text=text["default"],
        allowed=text["allowed"],
        meaning=text["meaning"],
        choices=[str(c) for c in choices],
    )
