"""A function's deployment package: the zip ``run_local.py package`` builds (byte for byte the same from the
same files), its checks, and the safe unpacking of a zip the Lambda API is given (size, names, modes)."""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

from sandbox.lambda_.packaging.targets import (
    DIRECT_UPLOAD_LIMIT_BYTES,
    UNZIPPED_LIMIT_BYTES,
    PackagingError,
    _human,
)

# Fixed timestamp and normalised permissions: the same inputs give the same zip bytes, so an unchanged
# build keeps the same CodeSha256 on AWS. AWS extracts a zip as a different user than the one who made it,
# so every file must be world-readable: a file zipped with mode 600 fails on AWS with "Permission denied".
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _zip_files(root: Path) -> list[Path]:
    """Every file under root to package, sorted (no __pycache__/.pyc)."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in filenames:
            if name.endswith((".pyc", ".pyo")):
                continue
            files.append(Path(dirpath, name))
    files.sort(key=lambda p: p.relative_to(root).as_posix())
    return files


def _write_zip(target, root: Path, files: Sequence[Path], prefix: str = "") -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            info = zipfile.ZipInfo(prefix + path.relative_to(root).as_posix(), date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits below are honoured
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, path.read_bytes())


def _zip_tree(root: Path, out_path: Path, prefix: str = "") -> int:
    """Zip every file under root into out_path; return the file count."""
    files = _zip_files(root)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    _write_zip(tmp, root, files, prefix)
    tmp.replace(out_path)
    return len(files)


def function_zip_bytes(code_dir: str | os.PathLike) -> bytes:
    """The deployment package of a code folder, in memory (what CreateFunction's ZipFile takes)."""
    import io

    code_dir = Path(code_dir)
    buffer = io.BytesIO()
    _write_zip(buffer, code_dir, _zip_files(code_dir))
    return buffer.getvalue()


def _unzipped_size(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as zf:
        return sum(i.file_size for i in zf.infolist())


def build_function_zip(code_dir: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Zip the files of code_dir at the zip's root (lambda_function.py at the top), like the console's
    "Upload from .zip file" expects. __pycache__ and .pyc files are left out (they belong to the local
    Python, not to Lambda's)."""
    code_dir, out_path = Path(code_dir), Path(out_path)
    if not code_dir.is_dir():
        raise PackagingError(
            f"The code directory {code_dir} does not exist: pass the folder that holds "
            f"lambda_function.py with --code-dir."
        )
    if _zip_tree(code_dir, out_path) == 0:
        out_path.unlink(missing_ok=True)
        raise PackagingError(
            f"The code directory {code_dir} has no files to package: pass the folder that "
            f"holds lambda_function.py with --code-dir."
        )
    return out_path


def check_function_zip(
    zip_path: str | os.PathLike, handler: str = "lambda_function.lambda_handler"
) -> list[str]:
    """Problems AWS would report for this function zip (empty list: none)."""
    zip_path = Path(zip_path)
    problems = []
    module = handler.rsplit(".", 1)[0].replace(".", "/")
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
    if f"{module}.py" not in names and f"{module}/__init__.py" not in names:
        nested = sorted(n for n in names if n.endswith(f"/{module}.py"))
        where = f" (it is at {nested[0]}: zip the folder's contents, not the folder)" if nested else ""
        problems.append(
            f"{zip_path.name} has no {module}.py at its root{where}; AWS would fail with "
            f"Runtime.ImportModuleError for the handler {handler}."
        )
    size = zip_path.stat().st_size
    if size > DIRECT_UPLOAD_LIMIT_BYTES:
        problems.append(
            f"{zip_path.name} is {_human(size)} zipped, over AWS's 50 MB limit for a direct "
            f"upload; upload it to S3 and deploy from there."
        )
    return problems


# ------------------------------------------------------------------------- unpacking what the API gets

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."


class PackageRefused(PackagingError):
    """A deployment package Lambda refuses (InvalidParameterValueException); the message is Lambda's."""


def too_large_unzipped(actual: int, with_layers: bool) -> PackageRefused:
    if with_layers:
        return PackageRefused(
            f"Function code combined with layers exceeds the maximum allowed size of "
            f"{UNZIPPED_LIMIT_BYTES} bytes. The actual size is {actual} bytes."
        )
    return PackageRefused(f"Unzipped size must be smaller than {UNZIPPED_LIMIT_BYTES} bytes")


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def unpack_package(zip_bytes: bytes, folder: Path, layers_bytes: int = 0) -> Path:
    """Unpack a deployment package into ``folder`` (created whole, or not at all), as Lambda accepts it:
    a readable zip, at most 250 MB unzipped together with its layers (``layers_bytes``), every entry
    inside the folder. The declared sizes (the central directory) are checked first; extraction stops at
    the limit too, whatever the headers claim. Raises PackageRefused with Lambda's message."""
    import io
    import uuid
    import zlib

    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise PackageRefused(UNZIP_FAILED) from None
    with archive:
        entries = archive.infolist()
        # AWS answers a zip it cannot unpack with this message; here also one whose entries would land
        # outside the task root (an absolute path or "..": a "zip slip").
        if any(_unsafe_name(info.filename) for info in entries):
            raise PackageRefused(UNZIP_FAILED)
        declared = layers_bytes + sum(info.file_size for info in entries)
        if declared >= UNZIPPED_LIMIT_BYTES:
            raise too_large_unzipped(declared, layers_bytes > 0)
        partial = folder.parent / f".{folder.name}.partial-{uuid.uuid4().hex[:8]}"
        try:
            _extract(archive, entries, partial, UNZIPPED_LIMIT_BYTES - layers_bytes, layers_bytes)
            if folder.exists():
                shutil.rmtree(partial)
            else:
                partial.rename(folder)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
            shutil.rmtree(partial, ignore_errors=True)
            raise PackageRefused(UNZIP_FAILED) from None
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return folder


def _extract(archive: zipfile.ZipFile, entries, target: Path, room: int, layers_bytes: int) -> None:
    written = 0
    target.mkdir(parents=True)
    for info in entries:
        path = target / info.filename
        if info.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, open(path, "wb") as out:
            while chunk := source.read(1024 * 1024):
                written += len(chunk)
                if written >= room:
                    raise too_large_unzipped(layers_bytes + written, layers_bytes > 0)
                out.write(chunk)
        _keep_mode(info, path)


def _keep_mode(info: zipfile.ZipInfo, path: Path) -> None:
    """An entry zipped on Unix keeps its permission bits (a ``bootstrap`` zipped as 0755 stays executable),
    as Lambda unpacks it; the owner can always read it."""
    mode = (info.external_attr >> 16) & 0o777
    if info.create_system == 3 and mode and os.name == "posix":
        os.chmod(path, mode | 0o400)


def folder_size(folder: Path) -> int:
    """Bytes of the files under ``folder`` (what a function's code or a layer adds to the 250 MB)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())
