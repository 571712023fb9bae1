"""The two zips deploy uploads: the function's code and the Pillow layer, built when missing or stale.

They are prepared before any call is made, so a missing or wrong zip stops the deploy with nothing changed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sandbox.config import LAMBDA_RUNTIME
from sandbox.tools.deploy.aws_errors import DeployError
from sandbox.tools.deploy.options import DeployOptions
from sandbox.tools.deploy.printer import Printer
from sandbox.tools.deploy.report import DeployReport

# The file names `run_local.py package` writes into the build folder.
FUNCTION_ZIP = "function.zip"
LAYER_ZIP = "pillow-layer.zip"  # Pillow for AWS Lambda (manylinux)
LOCAL_LAYER_ZIP = "pillow-layer-local.zip"  # Pillow for the interpreter running the sandbox: the local twin
LAMBDA_PYTHON = LAMBDA_RUNTIME.removeprefix("python")  # "3.12"


def _newest_mtime(folder: Path) -> float:
    times = [
        p.stat().st_mtime
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    return max(times, default=0.0)


def _this_platform() -> str:
    """The platform the local twin is built for: this interpreter's, e.g. ``cp311 linux x86_64``."""
    from sandbox.lambda_ import packaging

    here = packaging.Target.this_interpreter()
    return f"{here.cp} {sys.platform} {here.machine}"


class Packages:
    """Finds (and, as the options allow, builds) the zips for one deploy to one target."""

    def __init__(self, options: DeployOptions, target: str, printer: Printer, report: DeployReport):
        self._options = options
        self._local = target == "sandbox"
        self._printer = printer
        self._report = report

    def _package_command(self) -> str:
        return f"`python run_local.py package{' --local' if self._local else ''}`"

    def function_zip(self) -> Path:
        """The function zip, rebuilt from the code folder when missing or older than it (unless
        --no-build)."""
        from sandbox.lambda_ import packaging

        options, printer = self._options, self._printer
        if options.function_zip is not None:
            path = Path(options.function_zip)
            if not path.is_file() and not options.dry_run:
                raise DeployError(
                    f"The function zip {path} does not exist: build it with `python run_local.py "
                    f"package` or leave out --function-zip."
                )
        else:
            path = Path(options.build_dir) / FUNCTION_ZIP
            code_dir = Path(options.code_dir)
            missing = not path.is_file()
            stale = not missing and code_dir.is_dir() and _newest_mtime(code_dir) > path.stat().st_mtime
            if options.build == "never" and missing and not options.dry_run:
                raise DeployError(
                    f"{path} does not exist and --no-build was given: build it with "
                    f"`python run_local.py package`."
                )
            if options.build == "always" or (options.build == "missing" and (missing or stale)):
                reason = (
                    "rebuilding"
                    if options.build == "always"
                    else "missing"
                    if missing
                    else f"older than {code_dir}"
                )
                if options.dry_run:
                    printer.line(f"Function zip: {path} ({reason}: would be built from {code_dir})")
                    return path
                packaging.build_function_zip(code_dir, path)
                printer.line(f"Function zip: {path} built from {code_dir} ({reason})")
            elif stale:
                printer.line(
                    f"warning: {path} is older than the files in {code_dir}; it is deployed as it is "
                    f"(--no-build)."
                )
        if path.is_file():
            problems = packaging.check_function_zip(path, options.handler)
            if problems:
                raise DeployError(problems[0])
        return path

    def layer_zip(self) -> tuple[Path | None, list[str]]:
        """The layer zip to upload (built if needed and allowed) and the lines that say what it is; no zip
        with --no-layer."""
        from sandbox.lambda_ import packaging

        options = self._options
        if not options.use_layer:
            return None, []
        path = self._find_or_build_layer()
        if self._local:
            # AWS runs the function on Amazon Linux with python3.12 and imports the manylinux wheel; the
            # sandbox runs it with this machine's Python, which can only import compiled modules built for
            # itself.
            lines = [
                f"Layer zip: {path} — the LOCAL twin (Pillow for {_this_platform()}, this interpreter): the "
                f"sandbox runs the function with this machine's Python, which can only import a layer built "
                f"for its own platform. AWS gets build/{LAYER_ZIP} (manylinux, {LAMBDA_RUNTIME}) instead."
            ]
            problems = packaging.check_layer(path, local=True) if path.is_file() else []
            if problems:
                # Not fatal in the sandbox: deploying a layer built for another platform is a mistake worth
                # rehearsing (the function then fails with "cannot import name '_imaging' from 'PIL'").
                lines.append(f"warning: {problems[0]}")
                self._report.notes.append(problems[0])
            return path, lines
        problems = packaging.check_layer(path, options.architecture, LAMBDA_PYTHON) if path.is_file() else []
        if problems:
            raise DeployError(
                f"{problems[0]} Build the right one with `python run_local.py package --arch "
                f"{options.architecture}` (or pass --build)."
            )
        return path, [f"Layer zip: {path} — Pillow for AWS Lambda {LAMBDA_RUNTIME} {options.architecture}."]

    def _find_or_build_layer(self) -> Path:
        from sandbox.lambda_ import packaging

        options = self._options
        if options.layer_zip is not None:
            path = Path(options.layer_zip)
            if not path.is_file() and not options.dry_run:
                raise DeployError(
                    f"The layer zip {path} does not exist: build it with {self._package_command()} "
                    f"or leave out --layer-zip."
                )
            return path
        path = Path(options.build_dir) / (LOCAL_LAYER_ZIP if self._local else LAYER_ZIP)
        missing = not path.is_file()
        if options.build == "never" and missing and not options.dry_run:
            raise DeployError(
                f"{path} does not exist and --no-build was given: build it with {self._package_command()}."
            )
        if options.build == "always" or missing:
            what = (
                "local twin for this interpreter"
                if self._local
                else f"AWS Lambda {LAMBDA_RUNTIME} {options.architecture}"
            )
            if options.dry_run:
                self._printer.line(
                    f"Layer zip: {path} ({'missing' if missing else 'rebuilding'}: would be built, "
                    f"Pillow for the {what})"
                )
            else:
                self._printer.line(
                    f"Layer zip: building {path} (Pillow for the {what}; downloads from PyPI) ..."
                )
                built = packaging.build_pillow_layer(path, arch=options.architecture, local=self._local)
                if built.problems and not self._local:
                    raise DeployError(built.problems[0])
        return path

    def layer_description(self, layer_zip: Path) -> str:
        """PublishLayerVersion's Description: what the zip holds, for whom, from which file."""
        kind = (
            f"local twin for {_this_platform()}"
            if self._local
            else f"{LAMBDA_RUNTIME} {self._options.architecture}"
        )
        return f"Pillow ({kind}), from {layer_zip.name}"
