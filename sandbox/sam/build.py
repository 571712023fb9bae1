"""What ``sam build`` does for a function or layer folder, stood in for without pip or a network.

On AWS a function's ``CodeUri`` folder is deployed with the packages its ``requirements.txt`` names
(``sam build`` installs them into the artifact), and a layer with ``Metadata: BuildMethod: python3.x`` is
built into ``python/``. The sandbox runs the folder itself (so edits take effect at once, see
watcher.py) and stands in for the build with the packages already installed next to it: each one named
in ``requirements.txt``, with what it depends on, is linked into a folder the function sees after its own
code, as it would see them in its artifact. A requirement that is not installed here is reported by
name; the function then fails to import it, as an unbuilt function would on AWS.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import shutil
from pathlib import Path

# What AWS's Python runtime already has (env_vars.RUNTIME_PACKAGES gives functions these in any case).
RUNTIME_DISTRIBUTIONS = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: Path) -> list[str]:
    """The distributions a requirements.txt names (options, URLs and comments aside)."""
    names = []
    for line in requirements.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-") or "://" in line:
            continue
        found = _NAME.match(line)
        if found:
            names.append(found.group(1))
    return names


def _marker_applies(requirement: str) -> bool:
    """Whether a dependency's environment marker holds here (extras are never asked for)."""
    if ";" not in requirement:
        return True
    marker = requirement.split(";", 1)[1]
    if "extra" in marker:
        return False
    try:
        from packaging.markers import Marker
    except ImportError:
        return True
    try:
        return Marker(marker).evaluate()
    except Exception:
        return True


def _top_levels(distribution) -> list[Path]:
    """The importable files and folders a distribution installed (``PIL``, ``pillow.libs``, ``six.py``)."""
    found: dict[str, Path] = {}
    for file in distribution.files or []:
        parts = Path(str(file)).parts
        if (
            not parts
            or parts[0] in ("..", "__pycache__")
            or parts[0].endswith((".dist-info", ".egg-info", ".pth"))
        ):
            continue
        if len(parts) == 1 and not parts[0].endswith((".py", ".so", ".pyd")):
            continue
        found.setdefault(parts[0], Path(distribution.locate_file(parts[0])))
    return [path for path in found.values() if path.exists()]


def _link(source: Path, folder: Path) -> None:
    target = folder / source.name
    if target.exists() or target.is_symlink():
        return
    try:
        target.symlink_to(source, target_is_directory=source.is_dir())
    except OSError:  # Windows without symlink rights
        shutil.copytree(source, target) if source.is_dir() else shutil.copy2(source, target)


def stage_requirements(requirements: Path, layer_dir: Path) -> tuple[Path | None, list[str]]:
    """``layer_dir/python/`` with the installed packages ``requirements`` names and their dependencies;
    returns it (None when there is nothing to stage) and the requirements not installed here."""
    if not requirements.is_file():
        return None, []
    wanted = [n for n in requirement_names(requirements) if _normal(n) not in RUNTIME_DISTRIBUTIONS]
    if not wanted:
        return None, []
    python = layer_dir / "python"
    python.mkdir(parents=True, exist_ok=True)
    missing, seen, queue = [], set(), [(name, True) for name in wanted]
    while queue:
        name, direct = queue.pop(0)
        if _normal(name) in seen or _normal(name) in RUNTIME_DISTRIBUTIONS:
            continue
        seen.add(_normal(name))
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if direct:
                missing.append(name)
            continue
        for path in _top_levels(distribution):
            _link(path, python)
        for dependency in distribution.requires or []:
            found = _NAME.match(dependency)
            if found and _marker_applies(dependency):
                queue.append((found.group(1), False))
    return layer_dir, missing


def stage_layer(content: Path, build_method: str | None, layer_dir: Path) -> tuple[list[Path], list[str]]:
    """The folders a layer's ``ContentUri`` gives a function (each laid out as ``/opt``), and the
    requirements not installed here. Without a build method the folder is the layer as it stands (its
    ``python/`` is importable); with ``BuildMethod: python3.x`` its files go under ``python/`` and its
    requirements.txt is stood in for, as ``sam build`` would build it."""
    if not build_method:
        return [content], []
    source = layer_dir / "source"
    source.mkdir(parents=True, exist_ok=True)
    if not (source / "python").exists():
        try:
            (source / "python").symlink_to(content, target_is_directory=True)
        except OSError:
            shutil.copytree(content, source / "python")
    requirements, missing = stage_requirements(content / "requirements.txt", layer_dir / "requirements")
    return [source] + ([requirements] if requirements else []), missing
