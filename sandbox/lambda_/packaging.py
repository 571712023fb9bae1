"""``run_local.py package``: build the two zips the guide uploads to AWS, and check them.

``build/function.zip`` (the code directory's files at the zip's root) and ``build/pillow-layer.zip``
(Pillow under ``python/``, the wheel pip downloads for Lambda's platform and Python version, whatever
machine runs this). ``check_layer`` catches a layer built from another platform's wheels before the
upload; ``--local`` also builds the local twin of the layer, for this interpreter.

Why the layer needs Lambda's wheels: docs/tools.md.
"""
from __future__ import annotations

import argparse
import importlib.machinery
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from sandbox.errors import SandboxError

MB = 1024 * 1024
# AWS quotas (Lambda "Quotas" page): a zip uploaded directly (function or layer) may be 50 MB; the
# function and all its layers together may be 250 MB once unzipped; at most 5 layers per function.
DIRECT_UPLOAD_LIMIT_BYTES = 50 * MB
UNZIPPED_LIMIT_BYTES = 250 * MB

# Lambda's architecture names -> the Linux machine name in wheel tags and extension-module names.
LAMBDA_ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}

# Lambda's Python runtimes -> the operating system they run on and its glibc. A manylinux_2_X wheel needs
# glibc >= 2.X: python3.9-3.11 run on Amazon Linux 2 (glibc 2.26), python3.12 and later on Amazon Linux
# 2023 (glibc 2.34), which is why a recent Pillow (manylinux_2_27/2_28 wheels only) has no build for
# python3.11 on Lambda.
LAMBDA_PYTHON_RUNTIMES = {
    "3.9": ("Amazon Linux 2", 26),
    "3.10": ("Amazon Linux 2", 26),
    "3.11": ("Amazon Linux 2", 26),
    "3.12": ("Amazon Linux 2023", 34),
    "3.13": ("Amazon Linux 2023", 34),
    "3.14": ("Amazon Linux 2023", 34),
}

# ELF header e_machine values (System V ABI): which processor a Linux shared library was compiled for.
ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64", 0x03: "i386", 0x28: "arm", 0x15: "ppc64"}

# Extension-module name tags: _imaging.cpython-312-x86_64-linux-gnu.so (Linux), .cpython-312-darwin.so
# (macOS), .cp312-win_amd64.pyd (Windows).
_TAGGED_MODULE = re.compile(r"\.(cpython-\d+[^/]*\.so|cp\d+-[^/]*\.pyd)$")

DEFAULT_PIP: tuple[str, ...] = (sys.executable, "-m", "pip")


class PackagingError(SandboxError):
    """A package could not be built; the message is one sentence for the user."""


def _human(n: int) -> str:
    if n >= MB:
        return f"{n / MB:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} B"


# --------------------------------------------------------------------------------------------- targets

@dataclass(frozen=True)
class Target:
    """What a layer is built for: an AWS Lambda runtime + architecture, or the interpreter running here."""

    arch: str          # Lambda's name (x86_64 | arm64); for the local twin, this machine's
    python: str        # "3.12"
    local: bool = False

    @classmethod
    def aws(cls, arch: str = "x86_64", python: str = "3.12") -> "Target":
        python = python.removeprefix("python")  # accept the runtime id too: python3.12
        if arch not in LAMBDA_ARCHITECTURES:
            raise PackagingError(
                f"Unknown architecture {arch!r}: AWS Lambda offers x86_64 or arm64 (use --arch x86_64 or --arch arm64).")
        if python not in LAMBDA_PYTHON_RUNTIMES:
            raise PackagingError(
                f"python{python} is not an AWS Lambda runtime this command builds for: use --python with one "
                f"of {', '.join(LAMBDA_PYTHON_RUNTIMES)}.")
        return cls(arch, python, local=False)

    @classmethod
    def this_interpreter(cls) -> "Target":
        machine = platform.machine().lower()
        arch = {"amd64": "x86_64", "x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
        return cls(arch, f"{sys.version_info.major}.{sys.version_info.minor}", local=True)

    @property
    def machine(self) -> str:
        """The processor name used in Linux tags (x86_64, aarch64)."""
        if self.local:
            return platform.machine().lower()
        return LAMBDA_ARCHITECTURES[self.arch]

    @property
    def cp(self) -> str:
        return "cp" + self.python.replace(".", "")

    @property
    def extension_suffix(self) -> str:
        """The file-name ending every compiled module for this target must carry."""
        if self.local:
            return importlib.machinery.EXTENSION_SUFFIXES[0]
        return f".cpython-{self.python.replace('.', '')}-{self.machine}-linux-gnu.so"

    @property
    def is_linux(self) -> bool:
        return not self.local or sys.platform.startswith("linux")

    @property
    def max_glibc_minor(self) -> int | None:
        return None if self.local else LAMBDA_PYTHON_RUNTIMES[self.python][1]

    def short(self) -> str:
        if self.local:
            return f"this interpreter ({self.cp} {sys.platform} {self.machine})"
        return f"AWS Lambda python{self.python} {self.arch}"

    def describe(self) -> str:
        if self.local:
            return (f"local twin for this interpreter ({self.cp} {sys.platform} {self.machine}) "
                    f"— use only in the sandbox, never upload it")
        os_name = LAMBDA_PYTHON_RUNTIMES[self.python][0]
        return f"for AWS Lambda python{self.python} {self.arch} ({os_name})"

    def pip_platform_args(self) -> list[str]:
        """pip options that pick this target's wheels instead of the local machine's."""
        if self.local:
            return []  # pip's default: wheels for the interpreter running pip
        platforms = [f"manylinux_2_{minor}_{self.machine}" for minor in range(self.max_glibc_minor, 16, -1)]
        platforms.append(f"manylinux2014_{self.machine}")  # the name AWS's docs use; same as manylinux_2_17
        args = []
        for p in platforms:
            args += ["--platform", p]
        return args + ["--implementation", "cp", "--python-version", self.python]


# ------------------------------------------------------------------------------------------- zip files

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
        raise PackagingError(f"The code directory {code_dir} does not exist: pass the folder that holds "
                             f"lambda_function.py with --code-dir.")
    if _zip_tree(code_dir, out_path) == 0:
        out_path.unlink(missing_ok=True)
        raise PackagingError(f"The code directory {code_dir} has no files to package: pass the folder that "
                             f"holds lambda_function.py with --code-dir.")
    return out_path


def check_function_zip(zip_path: str | os.PathLike, handler: str = "lambda_function.lambda_handler") -> list[str]:
    """Problems AWS would report for this function zip (empty list: none)."""
    zip_path = Path(zip_path)
    problems = []
    module = handler.rsplit(".", 1)[0].replace(".", "/")
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
    if f"{module}.py" not in names and f"{module}/__init__.py" not in names:
        nested = sorted(n for n in names if n.endswith(f"/{module}.py"))
        where = f" (it is at {nested[0]}: zip the folder's contents, not the folder)" if nested else ""
        problems.append(f"{zip_path.name} has no {module}.py at its root{where}; AWS would fail with "
                        f"Runtime.ImportModuleError for the handler {handler}.")
    size = zip_path.stat().st_size
    if size > DIRECT_UPLOAD_LIMIT_BYTES:
        problems.append(f"{zip_path.name} is {_human(size)} zipped, over AWS's 50 MB limit for a direct "
                        f"upload; upload it to S3 and deploy from there.")
    return problems


# ------------------------------------------------------------------------- unpacking what the API gets

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."


class PackageRefused(PackagingError):
    """A deployment package Lambda refuses (InvalidParameterValueException); the message is Lambda's."""


def too_large_unzipped(actual: int, with_layers: bool) -> PackageRefused:
    if with_layers:
        return PackageRefused(f"Function code combined with layers exceeds the maximum allowed size of "
                              f"{UNZIPPED_LIMIT_BYTES} bytes. The actual size is {actual} bytes.")
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


# ---------------------------------------------------------------------------------------------- layers

@dataclass(frozen=True)
class LayerReport:
    """What build_pillow_layer made and what check_layer found in it."""

    path: Path
    target: Target
    pillow_version: str
    zipped_bytes: int
    unzipped_bytes: int
    imaging_module: str | None          # e.g. python/PIL/_imaging.cpython-312-x86_64-linux-gnu.so
    imaging_elf_machine: str | None     # e.g. x86_64, read from the .so's ELF header
    wheel_tags: tuple[str, ...] = ()    # from the dist-info WHEEL file, e.g. cp312-cp312-manylinux_2_28_x86_64
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def platform_tag(self) -> str | None:
        """The tag in _imaging's file name, e.g. cpython-312-x86_64-linux-gnu."""
        if not self.imaging_module:
            return None
        name = self.imaging_module.rsplit("/", 1)[-1]
        return name[len("_imaging."):].rsplit(".", 1)[0] if name.startswith("_imaging.") else name

    def describe(self) -> str:
        return self.target.describe()


def _elf_machine(header: bytes) -> str | None:
    """The processor an ELF file was built for, or None when it is not ELF."""
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    order = "little" if header[5] == 1 else "big"
    code = int.from_bytes(header[18:20], order)
    return ELF_MACHINES.get(code, f"machine 0x{code:x}")


def _binary_kind(header: bytes) -> str:
    if header[:4] == b"\x7fELF":
        return "Linux (ELF)"
    if header[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return "macOS (Mach-O)"
    if header[:2] == b"MZ":
        return "Windows (PE)"
    return "an unknown format"


def _inspect_layer(zip_path: Path, target: Target) -> tuple[dict, list[str]]:
    facts: dict = {"imaging": None, "elf": None, "tags": (), "unzipped": 0}
    problems: list[str] = []
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        return facts, [f"{zip_path} is not a readable zip file ({exc})."]
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        names = [i.filename for i in infos]
        facts["unzipped"] = sum(i.file_size for i in infos)

        outside = [n for n in names if not n.startswith("python/")]
        if outside:
            problems.append(f"{len(outside)} file(s) are outside python/ (first: {outside[0]}); AWS puts only "
                            f"/opt/python (the layer's python/ folder) on sys.path, so they cannot be imported.")

        # Where PIL sits: python/PIL or python/lib/python3.X/site-packages/PIL (both on Lambda's sys.path,
        # the second only for the matching Python version).
        inits = [n for n in names if re.fullmatch(r"python/(lib/python\d+\.\d+/site-packages/)?PIL/__init__\.py", n)]
        if not inits:
            problems.append(f"{zip_path.name} has no python/PIL/__init__.py; the function would fail with "
                            f"No module named 'PIL'.")
        else:
            m = re.match(r"python/lib/python(\d+\.\d+)/", inits[0])
            if m and m.group(1) != target.python:
                problems.append(f"PIL is under python/lib/python{m.group(1)}/site-packages/, which is on "
                                f"sys.path only for python{m.group(1)}, not python{target.python}.")
        pil_dir = inits[0].rsplit("/", 1)[0] + "/" if inits else "python/PIL/"

        imaging = [n for n in names if n.startswith(pil_dir + "_imaging.") and n.endswith((".so", ".pyd"))]
        if inits and not imaging:
            problems.append(f"{zip_path.name} has no compiled {pil_dir}_imaging module; the function would fail "
                            f"with cannot import name '_imaging' from 'PIL'.")
        if imaging:
            facts["imaging"] = imaging[0]
            facts["elf"] = _elf_machine(zf.open(imaging[0]).read(20))

        # Every compiled Python module must carry the target's tag, and every shared library (including the
        # libjpeg/libtiff copies in pillow.libs/) must be built for the target's processor.
        expected = target.extension_suffix
        for name in names:
            base = name.rsplit("/", 1)[-1]
            if _TAGGED_MODULE.search(base) and not base.endswith(expected):
                module = base.split(".", 1)[0]
                problems.append(f"{name} is not built for {target.short()}: it should be named "
                                f"{module}{expected}; importing it there would fail "
                                f"(cannot import name '{module}').")
            if target.is_linux and (base.endswith(".so") or ".so." in base):
                header = zf.open(name).read(20)
                machine = _elf_machine(header)
                if machine is None:
                    problems.append(f"{name} is a {_binary_kind(header)} binary, not a Linux shared library; "
                                    f"AWS Lambda runs Linux.")
                elif machine != target.machine:
                    problems.append(f"{name} is compiled for {machine}, but the target processor is "
                                    f"{target.machine} (Lambda architecture {target.arch}).")

        # The wheel's own tags (python/pillow-X.dist-info/WHEEL): Python version, platform and glibc level.
        wheel_files = [n for n in names if re.fullmatch(r"python/.*[Pp]illow-[^/]*\.dist-info/WHEEL", n)]
        if wheel_files:
            text = zf.read(wheel_files[0]).decode("utf-8", "replace")
            tags = tuple(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:"))
            facts["tags"] = tags
            if tags and not target.local:
                problems += _check_wheel_tags(tags, target)
    return facts, problems


def _check_wheel_tags(tags: Sequence[str], target: Target) -> list[str]:
    problems = []
    pythons = {t.split("-")[0] for t in tags}
    if not any(p in (target.cp, "py3", "cp3") or p.startswith("py3") for p in pythons):
        problems.append(f"The Pillow wheel is tagged {', '.join(sorted(pythons))}, but the target is "
                        f"python{target.python} ({target.cp}).")
    plats = [t.split("-")[-1] for t in tags]
    if not all(p.startswith("manylinux") and p.endswith("_" + target.machine) for p in plats):
        problems.append(f"The Pillow wheel's platform is {', '.join(sorted(set(plats)))}, but AWS Lambda "
                        f"{target.arch} needs a manylinux {target.machine} wheel.")
    else:
        needed = []
        for p in plats:
            m = re.match(r"manylinux_2_(\d+)_", p)
            needed.append(int(m.group(1)) if m else 17 if p.startswith("manylinux2014") else 5)
        have = target.max_glibc_minor
        if have is not None and min(needed) > have:
            os_name = LAMBDA_PYTHON_RUNTIMES[target.python][0]
            problems.append(f"The Pillow wheel needs glibc 2.{min(needed)}, but python{target.python} runs on "
                            f"{os_name} (glibc 2.{have}); pick an older Pillow with --pillow-version.")
    return problems


def check_layer(zip_path: str | os.PathLike, arch: str = "x86_64", python: str = "3.12", *,
                local: bool = False) -> list[str]:
    """Problems with a Pillow layer for AWS Lambda python<python> on <arch> (empty list: none).

    Checks the python/ layout, that every compiled module carries the target's Python and platform tag
    (``_imaging.cpython-312-x86_64-linux-gnu.so``) and is an ELF library for the target processor, the
    wheel's tags (including the glibc level the runtime's OS offers) and AWS's size limits. With
    local=True it checks against the interpreter running this code instead (for the local twin).
    """
    target = Target.this_interpreter() if local else Target.aws(arch, python)
    zip_path = Path(zip_path)
    facts, problems = _inspect_layer(zip_path, target)
    if zip_path.is_file():
        problems += _size_problems(zip_path.name, zip_path.stat().st_size, facts["unzipped"])
    return problems


def _size_problems(name: str, zipped: int, unzipped: int) -> list[str]:
    problems = []
    if zipped > DIRECT_UPLOAD_LIMIT_BYTES:
        problems.append(f"{name} is {_human(zipped)} zipped, over AWS's 50 MB limit for a direct upload.")
    if unzipped > UNZIPPED_LIMIT_BYTES:
        problems.append(f"{name} is {_human(unzipped)} unzipped, over AWS's 250 MB limit for a function and "
                        f"its layers together.")
    return problems


def local_pillow_version() -> str:
    try:
        return importlib.metadata.version("pillow")
    except importlib.metadata.PackageNotFoundError:
        raise PackagingError("Pillow is not installed here, so there is no local version to match: "
                             "pass --pillow-version (for example --pillow-version 12.2.0).") from None


_NETWORK_SIGNS = ("NewConnectionError", "Failed to establish a new connection", "Connection refused",
                  "Temporary failure in name resolution", "Name or service not known", "Network is unreachable",
                  "ConnectTimeout", "ReadTimeout", "timed out", "ProxyError", "SSLError", "No route to host",
                  "Could not fetch URL", "nodename nor servname")


def _pip_failure(output: str, pillow_version: str, target: Target) -> PackagingError:
    """Turn pip's output into one sentence."""
    what = f"Pillow {pillow_version} for {target.short()}"
    if "No matching distribution" in output or "Could not find a version" in output:
        if any(sign in output for sign in _NETWORK_SIGNS):
            return PackagingError(f"Could not reach the package index (PyPI) to download {what}; check the "
                                  f"network connection or proxy settings and try again.")
        m = re.search(r"\(from versions: ([^)]*)\)", output)
        versions = [v.strip() for v in m.group(1).split(",")] if m and m.group(1).strip() != "none" else []
        hint = f" (newest available: {', '.join(versions[-3:])})" if versions else ""
        if target.local:
            platform_words = f"{target.short()}"
        else:
            os_name, glibc = LAMBDA_PYTHON_RUNTIMES[target.python]
            platform_words = (f"{target.short()} ({target.cp}, manylinux {target.machine} up to glibc 2.{glibc}, "
                              f"as {os_name} has)")
        return PackagingError(f"PyPI has no Pillow {pillow_version} wheel for {platform_words}; choose another "
                              f"version with --pillow-version{hint}.")
    if any(sign in output for sign in _NETWORK_SIGNS):
        return PackagingError(f"Could not reach the package index (PyPI) to download {what}; check the "
                              f"network connection or proxy settings and try again.")
    errors = [line[len("ERROR:"):].strip() for line in output.splitlines() if line.startswith("ERROR:")]
    detail = errors[-1] if errors else (output.strip().splitlines() or ["no output"])[-1]
    return PackagingError(f"pip could not install {what}: {detail.rstrip('.')}.")


def build_pillow_layer(out_path: str | os.PathLike, arch: str = "x86_64", python: str = "3.12",
                       pillow_version: str | None = None, local: bool = False,
                       pip: Sequence[str] = DEFAULT_PIP) -> LayerReport:
    """Build a Pillow layer zip (python/ layout) and check it.

    By default for AWS Lambda python3.12 on x86_64, from the manylinux wheel PyPI publishes for that
    platform (never the wheel installed locally). local=True builds the twin for the interpreter running
    this code instead (arch and python are then ignored). pip is the command prefix that runs pip.
    """
    target = Target.this_interpreter() if local else Target.aws(arch, python)
    pillow_version = pillow_version or local_pillow_version()
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="pillow-layer-") as tmp:
        site = Path(tmp, "python")
        cmd = [*pip, "install", "--quiet", "--no-input", "--disable-pip-version-check",
               "--target", str(site), "--only-binary=:all:", *target.pip_platform_args(),
               # .pyc files would be compiled by the local Python, for the local Python: useless on Lambda.
               "--no-compile", "--timeout", "30", "--retries", "2",
               f"pillow=={pillow_version}"]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise PackagingError(f"Could not run pip ({' '.join(pip)}): {exc.strerror or exc}.") from None
        if result.returncode != 0:
            raise _pip_failure(result.stdout + "\n" + result.stderr, pillow_version, target)
        # pip --target may leave a bin/ folder for console scripts; a layer needs only the packages.
        shutil.rmtree(site / "bin", ignore_errors=True)
        _zip_tree(site, out_path, prefix="python/")

    facts, problems = _inspect_layer(out_path, target)
    zipped = out_path.stat().st_size
    problems += _size_problems(out_path.name, zipped, facts["unzipped"])
    return LayerReport(path=out_path, target=target, pillow_version=pillow_version, zipped_bytes=zipped,
                       unzipped_bytes=facts["unzipped"], imaging_module=facts["imaging"],
                       imaging_elf_machine=facts["elf"], wheel_tags=tuple(facts["tags"]),
                       problems=tuple(problems))


def installed_pillow_layer_bytes() -> bytes:
    """A Pillow layer (python/ layout) made from the Pillow this interpreter has installed, without pip or
    a network: the local twin the examples publish. It runs here, not on AWS (build that with
    ``run_local.py package``)."""
    import io

    import PIL

    package = Path(PIL.__file__).resolve().parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for folder in (package, package.parent / "pillow.libs"):
            for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, "python/" + path.relative_to(package.parent).as_posix())
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------- CLI

def add_subcommand(subparsers) -> argparse.ArgumentParser:
    """Register `package` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "package",
        help="build build/function.zip and build/pillow-layer.zip for AWS Lambda",
        description="Build the function zip (the code directory) and a Pillow layer zip (python/ layout) for "
                    "AWS Lambda's platform, check them against AWS's limits and print a summary.")
    p.add_argument("--code-dir", default="handler", help="folder whose files go to the zip's root (default: handler)")
    p.add_argument("--out", default="build", help="output folder (default: build)")
    p.add_argument("--arch", default="x86_64", metavar="{x86_64,arm64}",
                   help="Lambda architecture of the layer (default: x86_64)")
    p.add_argument("--python", default="3.12", metavar="VERSION",
                   help="Lambda Python runtime version of the layer (default: 3.12)")
    p.add_argument("--pillow-version", default=None, metavar="VERSION",
                   help="Pillow version for the layer (default: the version installed here)")
    p.add_argument("--local", action="store_true",
                   help="also build build/pillow-layer-local.zip for the interpreter running the sandbox")
    p.set_defaults(func=run_package)
    return p


def run_package(args: argparse.Namespace, out=None, err=None) -> int:
    """The `package` subcommand: 0 when everything was built and passed the checks, 1 when something was
    built but a check failed, 2 when nothing could be built (the reason in one sentence)."""
    out = out or sys.stdout
    err = err or sys.stderr
    out_dir = Path(args.out)
    try:
        target = Target.aws(args.arch, args.python)
        version = args.pillow_version or local_pillow_version()
        function_zip = build_function_zip(args.code_dir, out_dir / "function.zip")
        print(f"Downloading Pillow {version} {target.describe()} ...", file=out, flush=True)
        layers = [build_pillow_layer(out_dir / "pillow-layer.zip", args.arch, args.python, version)]
        if args.local:
            print(f"Downloading Pillow {version} for this interpreter (local twin) ...", file=out, flush=True)
            layers.append(build_pillow_layer(out_dir / "pillow-layer-local.zip", pillow_version=version,
                                             local=True))
    except PackagingError as exc:
        print(str(exc), file=err)
        return 2
    problems = check_function_zip(function_zip)
    print(format_summary(function_zip, layers, problems), file=out)
    return 1 if problems or any(layer.problems for layer in layers) else 0


def format_summary(function_zip: Path, layers: Sequence[LayerReport], function_problems: Sequence[str] = ()) -> str:
    """The printed summary: each zip, its sizes, what it is for, and AWS's limits."""
    fz, fu = function_zip.stat().st_size, _unzipped_size(function_zip)
    with zipfile.ZipFile(function_zip) as zf:
        n_files = len([i for i in zf.infolist() if not i.is_dir()])
    width = max(len(str(p)) for p in [function_zip, *(layer.path for layer in layers)]) + 2
    pad = " " * 6

    def row(path, zipped, unzipped, what):
        return f"  {str(path):<{width}}{_human(zipped):>9} zipped {_human(unzipped):>9} unzipped   {what}"

    lines = ["", row(function_zip, fz, fu, f"function code, {n_files} file(s) at the zip's root")]
    for layer in layers:
        lines.append(row(layer.path, layer.zipped_bytes, layer.unzipped_bytes,
                         f"Pillow {layer.pillow_version} {layer.describe()}"))
        module = layer.imaging_module.rsplit("/", 1)[-1] if layer.imaging_module else "no PIL/_imaging module"
        elf = f"ELF {layer.imaging_elf_machine}" if layer.imaging_elf_machine else "not a Linux ELF library"
        wheel = f", wheel {layer.wheel_tags[0]}" if layer.wheel_tags else ""
        lines.append(f"{pad}{module} ({elf}{wheel})")

    aws = [layer for layer in layers if not layer.target.local]
    if aws:
        biggest = max([fz] + [layer.zipped_bytes for layer in aws])
        unzipped = fu + sum(layer.unzipped_bytes for layer in aws)
        names = " + ".join([function_zip.name] + [layer.path.name for layer in aws])
        lines += ["", f"AWS limits ({names}):",
                  f"  zipped, per direct upload     {_human(biggest):>9} of 50 MB    "
                  f"{'OK' if biggest <= DIRECT_UPLOAD_LIMIT_BYTES else 'TOO BIG'}",
                  f"  unzipped, function + layers   {_human(unzipped):>9} of 250 MB   "
                  f"{'OK' if unzipped <= UNZIPPED_LIMIT_BYTES else 'TOO BIG'}"]

    problems = list(function_problems) + [p for layer in layers for p in layer.problems]
    if problems:
        lines += ["", "Problems:"] + [f"  - {p}" for p in problems]
    elif aws:
        layer = aws[0]
        lines += ["", "Upload with the AWS CLI:",
                  f"  aws lambda publish-layer-version --layer-name pillow --zip-file fileb://{layer.path} "
                  f"--compatible-runtimes python{layer.target.python} --compatible-architectures {layer.target.arch}",
                  f"  aws lambda update-function-code --function-name ImageResizeLambda --zip-file fileb://{function_zip}"]
    return "\n".join(lines)


__all__ = [
    "DIRECT_UPLOAD_LIMIT_BYTES", "UNZIPPED_LIMIT_BYTES", "LAMBDA_ARCHITECTURES", "LAMBDA_PYTHON_RUNTIMES",
    "LayerReport", "PackagingError", "Target", "add_subcommand", "build_function_zip", "build_pillow_layer",
    "check_function_zip", "check_layer", "format_summary", "run_package",
]
