"""What a package is built for: an AWS Lambda runtime and architecture (or this interpreter), and
Lambda's size quotas."""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import platform
import re
import sys
from dataclasses import dataclass

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

    arch: str  # Lambda's name (x86_64 | arm64); for the local twin, this machine's
    python: str  # "3.12"
    local: bool = False

    @classmethod
    def aws(cls, arch: str = "x86_64", python: str = "3.12") -> Target:
        python = python.removeprefix("python")  # accept the runtime id too: python3.12
        if arch not in LAMBDA_ARCHITECTURES:
            raise PackagingError(
                f"Unknown architecture {arch!r}: AWS Lambda offers x86_64 or arm64 (use --arch x86_64 or "
                "--arch arm64)."
            )
        if python not in LAMBDA_PYTHON_RUNTIMES:
            raise PackagingError(
                f"python{python} is not an AWS Lambda runtime this command builds for: use --python with one "
                f"of {', '.join(LAMBDA_PYTHON_RUNTIMES)}."
            )
        return cls(arch, python, local=False)

    @classmethod
    def this_interpreter(cls) -> Target:
        machine = platform.machine().lower()
        arch = {"amd64": "x86_64", "x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
            machine, machine
        )
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
            return (
                f"local twin for this interpreter ({self.cp} {sys.platform} {self.machine}) "
                f"— use only in the sandbox, never upload it"
            )
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
