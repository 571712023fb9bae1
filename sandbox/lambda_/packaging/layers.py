"""The Pillow layer: built from the wheels pip picks for Lambda's platform (or this interpreter's, the
local twin), checked for another platform's binaries before an upload. Why: docs/tools.md."""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.lambda_.packaging.function_zip import (
    _zip_tree,
)
from sandbox.lambda_.packaging.targets import (
    _TAGGED_MODULE,
    DEFAULT_PIP,
    DIRECT_UPLOAD_LIMIT_BYTES,
    ELF_MACHINES,
    LAMBDA_PYTHON_RUNTIMES,
    UNZIPPED_LIMIT_BYTES,
    PackagingError,
    Target,
    _human,
)


@dataclass(frozen=True)
class LayerReport:
    """What build_pillow_layer made and what check_layer found in it."""

    path: Path
    target: Target
    pillow_version: str
    zipped_bytes: int
    unzipped_bytes: int
    imaging_module: str | None  # e.g. python/PIL/_imaging.cpython-312-x86_64-linux-gnu.so
    imaging_elf_machine: str | None  # e.g. x86_64, read from the .so's ELF header
    wheel_tags: tuple[str, ...] = ()  # from the dist-info WHEEL file, e.g. cp312-cp312-manylinux_2_28_x86_64
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
        return name[len("_imaging.") :].rsplit(".", 1)[0] if name.startswith("_imaging.") else name

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


# Long on purpose: one pass over the zip's entries, gathering every check's evidence as it goes (files
# outside python/, where PIL sits, _imaging's platform, wheel tags), so the zip is read once.
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
            problems.append(
                f"{len(outside)} file(s) are outside python/ (first: {outside[0]}); AWS puts only "
                f"/opt/python (the layer's python/ folder) on sys.path, so they cannot be imported."
            )

        # Where PIL sits: python/PIL or python/lib/python3.X/site-packages/PIL (both on Lambda's sys.path,
        # the second only for the matching Python version).
        inits = [
            n
            for n in names
            if re.fullmatch(r"python/(lib/python\d+\.\d+/site-packages/)?PIL/__init__\.py", n)
        ]
        if not inits:
            problems.append(
                f"{zip_path.name} has no python/PIL/__init__.py; the function would fail with "
                f"No module named 'PIL'."
            )
        else:
            m = re.match(r"python/lib/python(\d+\.\d+)/", inits[0])
            if m and m.group(1) != target.python:
                problems.append(
                    f"PIL is under python/lib/python{m.group(1)}/site-packages/, which is on "
                    f"sys.path only for python{m.group(1)}, not python{target.python}."
                )
        pil_dir = inits[0].rsplit("/", 1)[0] + "/" if inits else "python/PIL/"

        imaging = [n for n in names if n.startswith(pil_dir + "_imaging.") and n.endswith((".so", ".pyd"))]
        if inits and not imaging:
            problems.append(
                f"{zip_path.name} has no compiled {pil_dir}_imaging module; the function would fail "
                f"with cannot import name '_imaging' from 'PIL'."
            )
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
                problems.append(
                    f"{name} is not built for {target.short()}: it should be named "
                    f"{module}{expected}; importing it there would fail "
                    f"(cannot import name '{module}')."
                )
            if target.is_linux and (base.endswith(".so") or ".so." in base):
                header = zf.open(name).read(20)
                machine = _elf_machine(header)
                if machine is None:
                    problems.append(
                        f"{name} is a {_binary_kind(header)} binary, not a Linux shared library; "
                        f"AWS Lambda runs Linux."
                    )
                elif machine != target.machine:
                    problems.append(
                        f"{name} is compiled for {machine}, but the target processor is "
                        f"{target.machine} (Lambda architecture {target.arch})."
                    )

        # The wheel's own tags (python/pillow-X.dist-info/WHEEL): Python version, platform and glibc level.
        wheel_files = [n for n in names if re.fullmatch(r"python/.*[Pp]illow-[^/]*\.dist-info/WHEEL", n)]
        if wheel_files:
            text = zf.read(wheel_files[0]).decode("utf-8", "replace")
            tags = tuple(
                line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")
            )
            facts["tags"] = tags
            if tags and not target.local:
                problems += _check_wheel_tags(tags, target)
    return facts, problems


def _check_wheel_tags(tags: Sequence[str], target: Target) -> list[str]:
    problems = []
    pythons = {t.split("-")[0] for t in tags}
    if not any(p in (target.cp, "py3", "cp3") or p.startswith("py3") for p in pythons):
        problems.append(
            f"The Pillow wheel is tagged {', '.join(sorted(pythons))}, but the target is "
            f"python{target.python} ({target.cp})."
        )
    plats = [t.split("-")[-1] for t in tags]
    if not all(p.startswith("manylinux") and p.endswith("_" + target.machine) for p in plats):
        problems.append(
            f"The Pillow wheel's platform is {', '.join(sorted(set(plats)))}, but AWS Lambda "
            f"{target.arch} needs a manylinux {target.machine} wheel."
        )
    else:
        needed = []
        for p in plats:
            m = re.match(r"manylinux_2_(\d+)_", p)
            needed.append(int(m.group(1)) if m else 17 if p.startswith("manylinux2014") else 5)
        have = target.max_glibc_minor
        if have is not None and min(needed) > have:
            os_name = LAMBDA_PYTHON_RUNTIMES[target.python][0]
            problems.append(
                f"The Pillow wheel needs glibc 2.{min(needed)}, but python{target.python} runs on "
                f"{os_name} (glibc 2.{have}); pick an older Pillow with --pillow-version."
            )
    return problems


def check_layer(
    zip_path: str | os.PathLike, arch: str = "x86_64", python: str = "3.12", *, local: bool = False
) -> list[str]:
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
        problems.append(
            f"{name} is {_human(unzipped)} unzipped, over AWS's 250 MB limit for a function and "
            f"its layers together."
        )
    return problems


def local_pillow_version() -> str:
    try:
        return importlib.metadata.version("pillow")
    except importlib.metadata.PackageNotFoundError:
        raise PackagingError(
            "Pillow is not installed here, so there is no local version to match: "
            "pass --pillow-version (for example --pillow-version 12.2.0)."
        ) from None


_NETWORK_SIGNS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Connection refused",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeout",
    "ReadTimeout",
    "timed out",
    "ProxyError",
    "SSLError",
    "No route to host",
    "Could not fetch URL",
    "nodename nor servname",
)


def _pip_failure(output: str, pillow_version: str, target: Target) -> PackagingError:
    """Turn pip's output into one sentence."""
    what = f"Pillow {pillow_version} for {target.short()}"
    if "No matching distribution" in output or "Could not find a version" in output:
        if any(sign in output for sign in _NETWORK_SIGNS):
            return PackagingError(
                f"Could not reach the package index (PyPI) to download {what}; check the "
                f"network connection or proxy settings and try again."
            )
        m = re.search(r"\(from versions: ([^)]*)\)", output)
        versions = [v.strip() for v in m.group(1).split(",")] if m and m.group(1).strip() != "none" else []
        hint = f" (newest available: {', '.join(versions[-3:])})" if versions else ""
        if target.local:
            platform_words = f"{target.short()}"
        else:
            os_name, glibc = LAMBDA_PYTHON_RUNTIMES[target.python]
            platform_words = (
                f"{target.short()} ({target.cp}, manylinux {target.machine} up to glibc 2.{glibc}, "
                f"as {os_name} has)"
            )
        return PackagingError(
            f"PyPI has no Pillow {pillow_version} wheel for {platform_words}; choose another "
            f"version with --pillow-version{hint}."
        )
    if any(sign in output for sign in _NETWORK_SIGNS):
        return PackagingError(
            f"Could not reach the package index (PyPI) to download {what}; check the "
            f"network connection or proxy settings and try again."
        )
    errors = [line[len("ERROR:") :].strip() for line in output.splitlines() if line.startswith("ERROR:")]
    detail = errors[-1] if errors else (output.strip().splitlines() or ["no output"])[-1]
    return PackagingError(f"pip could not install {what}: {detail.rstrip('.')}.")


def build_pillow_layer(
    out_path: str | os.PathLike,
    arch: str = "x86_64",
    python: str = "3.12",
    pillow_version: str | None = None,
    local: bool = False,
    pip: Sequence[str] = DEFAULT_PIP,
) -> LayerReport:
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
        cmd = [
            *pip,
            "install",
            "--quiet",
            "--no-input",
            "--disable-pip-version-check",
            "--target",
            str(site),
            "--only-binary=:all:",
            *target.pip_platform_args(),
            # .pyc files would be compiled by the local Python, for the local Python: useless on Lambda.
            "--no-compile",
            "--timeout",
            "30",
            "--retries",
            "2",
            f"pillow=={pillow_version}",
        ]
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
    return LayerReport(
        path=out_path,
        target=target,
        pillow_version=pillow_version,
        zipped_bytes=zipped,
        unzipped_bytes=facts["unzipped"],
        imaging_module=facts["imaging"],
        imaging_elf_machine=facts["elf"],
        wheel_tags=tuple(facts["tags"]),
        problems=tuple(problems),
    )


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
