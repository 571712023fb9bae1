"""Reusing work across starts: a zip built from folders whose files are unchanged, and a package already
unpacked (keyed by its SHA-256, what Lambda reports as CodeSha256). Both live in a private cache folder
(this user's, mode 0700; files 0600, never opened through a link); an entry missing, partial or not
matching what it was written with is a miss, and the work is done again (docs/execution-environment.md).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from sandbox.lambda_.packaging.function_zip import too_large_unzipped, unpack_package
from sandbox.lambda_.packaging.targets import UNZIPPED_LIMIT_BYTES

FORMAT = b"lambda-sandbox-cache-1\n"
KEPT_ZIPS = 8
KEPT_TREES = 4
# Smaller packages unpack in a few milliseconds: only larger ones are worth a cached tree.
TREE_MIN_ZIP_BYTES = 1024 * 1024


def cache_root() -> Path | None:
    """The private cache folder (in the temporary directory, next to the sandbox's own state, so its
    files can be hard-linked there), or None when it cannot be made safely (then nothing is cached)."""
    return private_dir(Path(tempfile.gettempdir()) / f"lambda-sandbox-cache-{os.geteuid()}")


def private_dir(path: Path) -> Path | None:
    """``path`` made (0700) if missing, when it is a real directory of this user's alone; else None."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        found = os.lstat(path)
    except OSError:
        return None
    if (
        not stat.S_ISDIR(found.st_mode)
        or found.st_uid != os.geteuid()
        or found.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    ):
        return None
    return path


def _read_entry(path: Path) -> bytes | None:
    """The payload of a cache file, if it is a plain file holding exactly what was written."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    head = len(FORMAT) + 32
    if len(data) < head or not data.startswith(FORMAT):
        return None
    digest, payload = data[len(FORMAT) : head], data[head:]
    return payload if hashlib.sha256(payload).digest() == digest else None


def _write_entry(path: Path, payload: bytes) -> None:
    """Write a cache file whole (a temporary file renamed over it), mode 0600."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(FORMAT + hashlib.sha256(payload).digest() + payload)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _keep_newest(paths: Iterable[Path], keep: int, remove: Callable[[Path], None]) -> None:
    def age(path: Path) -> int:
        try:
            return os.lstat(path).st_mtime_ns
        except OSError:
            return 0

    for old in sorted(paths, key=age, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            remove(old)


# ------------------------------------------------------------------------------ zips built from folders


def folders_manifest(folders: Sequence[Path], ignore: Sequence[str]) -> bytes:
    """What a zip of these folders depends on: every file's relative path, size, modification time and
    mode, as a copy of the folders (following links, leaving out names matching ``ignore``) sees them."""
    lines = [FORMAT.decode().strip()]
    for folder in folders:
        lines.append(f"folder\t{Path(folder).resolve()}")
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not _ignored(d, ignore))
            for name in sorted(filenames):
                if _ignored(name, ignore):
                    continue
                path = os.path.join(dirpath, name)
                found = os.stat(path)
                relative = os.path.relpath(path, folder)
                lines.append(f"{relative}\t{found.st_size}\t{found.st_mtime_ns}\t{found.st_mode:o}")
    return "\n".join(lines).encode("utf-8", "surrogateescape")


def _ignored(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def cached_zip(manifest: bytes, build: Callable[[], bytes], root: Path | None = None) -> bytes:
    """The zip ``build`` makes for these inputs (``manifest``): the one built before when the manifest
    is the same and the cached file intact, else built now and kept."""
    root = private_dir(root / "zips") if root else (_sub(cache_root(), "zips"))
    if root is None:
        return build()
    entry = root / f"{hashlib.sha256(manifest).hexdigest()}.zip"
    cached = _read_entry(entry)
    if cached is not None:
        with contextlib.suppress(OSError):
            os.utime(entry, follow_symlinks=False)
        return cached
    built = build()
    with contextlib.suppress(OSError):
        _write_entry(entry, built)
        _keep_newest(root.glob("*.zip"), KEPT_ZIPS, Path.unlink)
    return built


def _sub(root: Path | None, name: str) -> Path | None:
    return private_dir(root / name) if root else None


# ------------------------------------------------------------------------- packages already unpacked


def _tree_manifest(tree: Path) -> list[list]:
    entries = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            found = os.lstat(os.path.join(dirpath, name))
            relative = os.path.relpath(os.path.join(dirpath, name), tree)
            entries.append([relative, found.st_size, found.st_mtime_ns, found.st_mode])
    return entries


def unpack_reusing(
    zip_bytes: bytes,
    folder: Path,
    layers_bytes: int = 0,
    root: Path | None = None,
    min_zip_bytes: int = TREE_MIN_ZIP_BYTES,
) -> Path:
    """``unpack_package``, with the files of a package unpacked before (same SHA-256) hard-linked into
    ``folder`` instead of unpacked again, when the cached tree is exactly as it was unpacked (every
    file's size, time and mode as recorded; anything else is a miss). Same results, same refusals."""
    trees = private_dir(root / "trees") if root else _sub(cache_root(), "trees")
    if trees is None or len(zip_bytes) < min_zip_bytes:
        return unpack_package(zip_bytes, folder, layers_bytes)
    sha = hashlib.sha256(zip_bytes).hexdigest()
    tree, record = trees / sha, trees / f"{sha}.json"
    entries = _intact_tree(tree, record)
    if entries is None:
        entries = _store_tree(zip_bytes, tree, record, trees)  # refusals (PackageRefused) come from here
        if entries is None:
            return unpack_package(zip_bytes, folder, layers_bytes)
    unpacked = sum(size for _, size, _, mode in entries if stat.S_ISREG(mode))
    if layers_bytes + unpacked >= UNZIPPED_LIMIT_BYTES:
        raise too_large_unzipped(layers_bytes + unpacked, layers_bytes > 0)
    if folder.exists():
        return folder
    partial = folder.parent / f".{folder.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        _link_tree(tree, partial, symlinks=True, copy_function=os.link)
        if _tree_manifest(partial) != entries:  # the tree changed while it was being linked
            raise OSError("the cached tree changed")
        partial.rename(folder)
    except OSError:  # another file system (no hard links), or the entry went away: unpack as usual
        shutil.rmtree(partial, ignore_errors=True)
        return unpack_package(zip_bytes, folder, layers_bytes)
    with contextlib.suppress(OSError):
        os.utime(record, follow_symlinks=False)
    return folder


def _link_tree(source: Path, target: Path, **options) -> None:
    shutil.copytree(source, target, **options)


def _intact_tree(tree: Path, record: Path) -> list[list] | None:
    payload = _read_entry(record)
    if payload is None:
        return None
    try:
        entries = json.loads(payload)
        return entries if _tree_manifest(tree) == entries else None
    except (OSError, ValueError):
        return None


def _store_tree(zip_bytes: bytes, tree: Path, record: Path, trees: Path) -> list[list] | None:
    """Unpack into the cache (staged, then renamed: a partial tree is never under its final name) and
    record what every file is; None when the cache cannot take it."""
    staged = trees / f".{tree.name}.staged-{uuid.uuid4().hex[:8]}"
    unpack_package(zip_bytes, staged)  # refused here as Lambda would refuse it
    try:
        entries = _tree_manifest(staged)
        with contextlib.suppress(OSError):
            record.unlink()
        if tree.exists():  # one that no longer matches its record: moved aside whole, then removed
            aside = trees / f".{tree.name}.old-{uuid.uuid4().hex[:8]}"
            tree.rename(aside)
            shutil.rmtree(aside, ignore_errors=True)
        staged.rename(tree)
        _write_entry(record, json.dumps(entries).encode())
    except OSError:
        shutil.rmtree(staged, ignore_errors=True)
        return None

    def remove(old_record: Path) -> None:
        old_record.unlink()
        shutil.rmtree(old_record.with_suffix(""), ignore_errors=True)

    _keep_newest(trees.glob("*.json"), KEPT_TREES, remove)
    return entries
