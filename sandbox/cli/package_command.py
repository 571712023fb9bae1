"""``run_local.py package``: build the two zips the guide uploads to AWS (``build/function.zip``,
``build/pillow-layer.zip``), check them, and print what was built against Lambda's quotas."""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from sandbox.lambda_.packaging.function_zip import (
    _unzipped_size,
    build_function_zip,
    check_function_zip,
)
from sandbox.lambda_.packaging.layers import (
    LayerReport,
    build_pillow_layer,
    local_pillow_version,
)
from sandbox.lambda_.packaging.targets import (
    DIRECT_UPLOAD_LIMIT_BYTES,
    UNZIPPED_LIMIT_BYTES,
    PackagingError,
    Target,
    _human,
)


def add_subcommand(subparsers) -> argparse.ArgumentParser:
    """Register `package` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "package",
        help="build build/function.zip and build/pillow-layer.zip for AWS Lambda",
        description="Build the function zip (the code directory) and a Pillow layer zip (python/ layout) for "
        "AWS Lambda's platform, check them against AWS's limits and print a summary.",
    )
    p.add_argument(
        "--code-dir", default="handler", help="folder whose files go to the zip's root (default: handler)"
    )
    p.add_argument("--out", default="build", help="output folder (default: build)")
    p.add_argument(
        "--arch",
        default="x86_64",
        metavar="{x86_64,arm64}",
        help="Lambda architecture of the layer (default: x86_64)",
    )
    p.add_argument(
        "--python",
        default="3.12",
        metavar="VERSION",
        help="Lambda Python runtime version of the layer (default: 3.12)",
    )
    p.add_argument(
        "--pillow-version",
        default=None,
        metavar="VERSION",
        help="Pillow version for the layer (default: the version installed here)",
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="also build build/pillow-layer-local.zip for the interpreter running the sandbox",
    )
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
            layers.append(
                build_pillow_layer(out_dir / "pillow-layer-local.zip", pillow_version=version, local=True)
            )
    except PackagingError as exc:
        print(str(exc), file=err)
        return 2
    problems = check_function_zip(function_zip)
    print(format_summary(function_zip, layers, problems), file=out)
    return 1 if problems or any(layer.problems for layer in layers) else 0


def format_summary(
    function_zip: Path, layers: Sequence[LayerReport], function_problems: Sequence[str] = ()
) -> str:
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
        lines.append(
            row(
                layer.path,
                layer.zipped_bytes,
                layer.unzipped_bytes,
                f"Pillow {layer.pillow_version} {layer.describe()}",
            )
        )
        module = layer.imaging_module.rsplit("/", 1)[-1] if layer.imaging_module else "no PIL/_imaging module"
        elf = f"ELF {layer.imaging_elf_machine}" if layer.imaging_elf_machine else "not a Linux ELF library"
        wheel = f", wheel {layer.wheel_tags[0]}" if layer.wheel_tags else ""
        lines.append(f"{pad}{module} ({elf}{wheel})")

    aws = [layer for layer in layers if not layer.target.local]
    if aws:
        biggest = max([fz] + [layer.zipped_bytes for layer in aws])
        unzipped = fu + sum(layer.unzipped_bytes for layer in aws)
        names = " + ".join([function_zip.name] + [layer.path.name for layer in aws])
        lines += [
            "",
            f"AWS limits ({names}):",
            f"  zipped, per direct upload     {_human(biggest):>9} of 50 MB    "
            f"{'OK' if biggest <= DIRECT_UPLOAD_LIMIT_BYTES else 'TOO BIG'}",
            f"  unzipped, function + layers   {_human(unzipped):>9} of 250 MB   "
            f"{'OK' if unzipped <= UNZIPPED_LIMIT_BYTES else 'TOO BIG'}",
        ]

    problems = list(function_problems) + [p for layer in layers for p in layer.problems]
    if problems:
        lines += ["", "Problems:"] + [f"  - {p}" for p in problems]
    elif aws:
        layer = aws[0]
        lines += [
            "",
            "Upload with the AWS CLI:",
            f"  aws lambda publish-layer-version --layer-name pillow --zip-file fileb://{layer.path} "
            f"--compatible-runtimes python{layer.target.python} --compatible-architectures "
            f"{layer.target.arch}",
            f"  aws lambda update-function-code --function-name ImageResizeLambda --zip-file fileb://{function_zip}",
        ]
    return "\n".join(lines)
