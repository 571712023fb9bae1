"""The handler's settings (environment variables), read from the table in its module docstring.

The handler documents its settings in one Markdown table (``| Variable | Default | Allowed values |
Meaning |``). The page reads that table - without importing the handler, whose INIT phase creates an S3
client - so the Configuration tab always shows the settings of the code that is actually deployed,
with their defaults, and a handler without such a table just gets the plain environment-variable
editor, as in the console.
"""
from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sandbox.config import RESERVED_ENV_KEYS

_TICKED = re.compile(r"`([^`]*)`")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class HandlerSetting:
    name: str
    default: str  # "" when unset by default
    default_text: str  # the table's default cell, without backticks ("50 MiB" notes kept)
    allowed: str
    meaning: str
    choices: list = field(default_factory=list)  # filled when the allowed values are a closed list

    def as_dict(self) -> dict:
        return asdict(self)


def handler_source(code_dir: Path, handler: str) -> Path:
    """``lambda_function.lambda_handler`` -> ``<code_dir>/lambda_function.py``."""
    module = handler.rsplit(".", 1)[0]
    return Path(code_dir, *module.split(".")).with_suffix(".py")


_cache: dict[Path, tuple[float, list[HandlerSetting]]] = {}


def read_handler_settings(code_dir: Path, handler: str) -> list[HandlerSetting]:
    path = handler_source(code_dir, handler)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return []
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        docstring = ""
    settings = parse_settings_table(docstring)
    _cache[path] = (mtime, settings)
    return settings


def _plain(cell: str) -> str:
    return cell.replace("`", "").strip()


def parse_settings_table(text: str) -> list[HandlerSetting]:
    """Rows of the first Markdown table whose header starts with ``Variable | Default``."""
    settings: list[HandlerSetting] = []
    in_table = False
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            if in_table:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not in_table:
            in_table = len(cells) >= 2 and cells[0].lower() == "variable" and cells[1].lower() == "default"
            continue
        if set("".join(cells)) <= set("-: "):
            continue  # the |---|---| separator row
        if len(cells) < 2:
            continue
        name = _plain(cells[0])
        if not _NAME.match(name) or name in RESERVED_ENV_KEYS:
            continue  # e.g. AWS_LAMBDA_FUNCTION_MEMORY_SIZE: Lambda sets it, the user cannot
        default_cell = cells[1]
        ticked = _TICKED.findall(default_cell)
        default = ticked[0] if ticked else ""
        if default_cell.strip().lower().startswith("unset"):
            default = ""
        allowed = cells[2] if len(cells) > 2 else ""
        meaning = cells[3] if len(cells) > 3 else ""
        choices = _choices(allowed)
        settings.append(HandlerSetting(name=name, default=default, default_text=_plain(default_cell),
                                       allowed=_plain(allowed), meaning=_plain(meaning), choices=choices))
    return settings


def _choices(allowed: str) -> list[str]:
    """``"`JPEG`, `PNG`, `WEBP`"`` is a closed list; anything with other words around it is not."""
    ticked = _TICKED.findall(allowed)
    if len(ticked) < 2:
        return []
    rest = _TICKED.sub("", allowed).replace(",", "").replace(" or ", "").strip()
    return ticked if not rest else []
