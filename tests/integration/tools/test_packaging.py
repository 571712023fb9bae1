"""`run_local.py package`: the function zip, the Pillow layer for AWS's platform, its local twin, the checks.

The layer tests download real wheels from PyPI (a few MB each; pip caches them), so they exercise what a
user gets. They are built once per module.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from helpers.paths import PROJECT_ROOT
from sandbox.cli import package_command
from sandbox.lambda_ import packaging
from sandbox.lambda_.packaging import (
    DIRECT_UPLOAD_LIMIT_BYTES,
    UNZIPPED_LIMIT_BYTES,
    PackagingError,
    build_function_zip,
    build_pillow_layer,
    check_function_zip,
    check_layer,
)

SUFFIX = {"x86_64": ".cpython-312-x86_64-linux-gnu.so", "arm64": ".cpython-312-aarch64-linux-gnu.so"}


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run_local.py")
    package_command.add_subcommand(parser.add_subparsers(dest="command"))
    return parser


def run_cli(argv: list[str]) -> int:
    args = make_parser().parse_args(["package", *argv])
    return args.func(args)


def write_code_dir(root: Path) -> Path:
    code = root / "handler"
    (code / "__pycache__").mkdir(parents=True)
    (code / "lambda_function.py").write_text("def lambda_handler(event, context):\n    return 'ok'\n")
    (code / "image_resize.py").write_text("HALF = 0.5\n")
    (code / "__pycache__" / "lambda_function.cpython-311.pyc").write_bytes(b"\x00pyc")
    (code / "stale.pyc").write_bytes(b"\x00pyc")
    secret = code / "settings.json"
    secret.write_text("{}")
    secret.chmod(0o600)
    return code


def elf_header(machine: int) -> bytes:
    """The first 20 bytes of a 64-bit little-endian ELF shared object for e_machine `machine`."""
    return (
        b"\x7fELF"
        + bytes([2, 1, 1, 0])
        + bytes(8)
        + (3).to_bytes(2, "little")
        + machine.to_bytes(2, "little")
    )


def fake_layer(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def good_fake_files(arch_machine: str = "x86_64", elf: int = 0x3E) -> dict[str, bytes]:
    return {
        "python/PIL/__init__.py": b"",
        f"python/PIL/_imaging.cpython-312-{arch_machine}-linux-gnu.so": elf_header(elf),
        "python/pillow-13.0.0.dist-info/WHEEL": (
            f"Wheel-Version: 1.0\nTag: cp312-cp312-manylinux_2_28_{arch_machine}\n"
        ).encode(),
    }


# ------------------------------------------------------------------------------------------ function.zip


def test_function_zip_holds_code_dir_files_at_root_without_pycache(tmp_path):
    code = write_code_dir(tmp_path)
    out = build_function_zip(code, tmp_path / "build" / "function.zip")
    with zipfile.ZipFile(out) as zf:
        names = sorted(zf.namelist())
        assert names == ["image_resize.py", "lambda_function.py", "settings.json"]
        assert zf.read("lambda_function.py").startswith(b"def lambda_handler")
    assert check_function_zip(out) == []


def test_function_zip_of_the_handler_holds_every_module_it_imports(tmp_path):
    # The zip alone, extracted as Lambda's task root, must import: no module of handler/ left out.
    out = build_function_zip(PROJECT_ROOT / "handler", tmp_path / "function.zip")
    task_root = tmp_path / "task"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(task_root)
    code = (
        "import sys, lambda_function; "
        "print('\\n'.join(sorted(m.__file__ for m in list(sys.modules.values()) "
        "if (getattr(m, '__file__', None) or '').startswith(sys.argv[1]))))"
    )
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(task_root)}
    result = subprocess.run(
        [sys.executable, "-c", code, str(task_root)],
        cwd=task_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    imported = {Path(line).name for line in result.stdout.split()}
    assert {"lambda_function.py", "image_resize.py", "memory_budget.py", "settings.py"} <= imported
    assert imported == {path.name for path in (PROJECT_ROOT / "handler").glob("*.py")}


def test_function_zip_files_are_world_readable_for_lambda(tmp_path):
    # AWS extracts the zip as another user: a 0600 file would fail there with "Permission denied".
    out = build_function_zip(write_code_dir(tmp_path), tmp_path / "function.zip")
    with zipfile.ZipFile(out) as zf:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
    assert all(mode & 0o444 == 0o444 for mode in modes.values()), modes
    assert modes["settings.json"] == 0o644


@pytest.mark.skipif(os.name != "posix", reason="Unix permission bits")
def test_unpacked_entries_keep_their_unix_permission_bits(tmp_path):
    # A custom runtime's bootstrap zipped as 0755 must arrive executable, as Lambda unpacks it.
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, mode in (("bootstrap", 0o755), ("lib/data.txt", 0o644)):
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, "#!/bin/sh\n")
    folder = packaging.unpack_package(buffer.getvalue(), tmp_path / "task")
    assert os.access(folder / "bootstrap", os.X_OK)
    assert (folder / "lib" / "data.txt").stat().st_mode & 0o777 == 0o644


def test_function_zip_is_byte_identical_when_rebuilt(tmp_path):
    code = write_code_dir(tmp_path)
    first = build_function_zip(code, tmp_path / "a.zip").read_bytes()
    os.utime(code / "lambda_function.py", (1_000_000_000, 1_000_000_000))
    assert build_function_zip(code, tmp_path / "b.zip").read_bytes() == first


def test_function_zip_of_wrapping_folder_is_reported_as_nested(tmp_path):
    write_code_dir(tmp_path / "project")
    out = build_function_zip(tmp_path / "project", tmp_path / "function.zip")
    problems = check_function_zip(out)
    assert len(problems) == 1
    assert "no lambda_function.py at its root" in problems[0]
    assert "handler/lambda_function.py" in problems[0]
    assert "Runtime.ImportModuleError" in problems[0]


def test_missing_code_dir_is_a_packaging_error(tmp_path):
    with pytest.raises(PackagingError, match="does not exist"):
        build_function_zip(tmp_path / "nope", tmp_path / "function.zip")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PackagingError, match="no files"):
        build_function_zip(empty, tmp_path / "function.zip")
    assert not (tmp_path / "function.zip").exists()


# ------------------------------------------------------------------------------ real layers from PyPI
# (marked slow: the `built` fixture downloads Pillow's wheels)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One CLI run (function zip + x86_64 layer + local twin) and one arm64 layer build."""
    root = tmp_path_factory.mktemp("package")
    code = write_code_dir(root)
    out = root / "build"
    from io import StringIO

    stdout, stderr = StringIO(), StringIO()
    args = make_parser().parse_args(["package", "--code-dir", str(code), "--out", str(out), "--local"])
    rc = package_command.run_package(args, out=stdout, err=stderr)
    arm = build_pillow_layer(root / "arm64" / "pillow-layer.zip", arch="arm64", python="3.12")
    return {
        "rc": rc,
        "stdout": stdout.getvalue(),
        "stderr": stderr.getvalue(),
        "out": out,
        "arm64": arm,
        "root": root,
    }


def layer_path(built, arch: str) -> Path:
    return built["out"] / "pillow-layer.zip" if arch == "x86_64" else built["arm64"].path


@pytest.mark.slow
def test_package_command_builds_function_and_layer_zips(built):
    assert built["rc"] == 0, built["stdout"] + built["stderr"]
    assert built["stderr"] == ""
    assert sorted(p.name for p in built["out"].iterdir()) == [
        "function.zip",
        "pillow-layer-local.zip",
        "pillow-layer.zip",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_aws_layer_has_python_layout_pillow_only(built, arch):
    with zipfile.ZipFile(layer_path(built, arch)) as zf:
        names = zf.namelist()
    assert all(n.startswith("python/") for n in names)
    assert "python/PIL/__init__.py" in names
    top = {n.split("/")[1] for n in names}
    # boto3 comes with the Lambda runtime; the layer carries Pillow alone.
    assert not top & {"boto3", "botocore", "s3transfer"}
    assert any(t.lower().startswith("pillow-") and t.endswith(".dist-info") for t in top)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_aws_layer_modules_carry_lambda_python_and_arch_tags(built, arch):
    path = layer_path(built, arch)
    with zipfile.ZipFile(path) as zf:
        compiled = [n for n in zf.namelist() if n.startswith("python/PIL/") and n.endswith(".so")]
        wheel = next(n for n in zf.namelist() if n.endswith(".dist-info/WHEEL"))
        tags = [
            line.split(":", 1)[1].strip()
            for line in zf.read(wheel).decode().splitlines()
            if line.startswith("Tag:")
        ]
    assert "python/PIL/_imaging" + SUFFIX[arch] in compiled
    assert all(n.endswith(SUFFIX[arch]) for n in compiled), compiled
    machine = "x86_64" if arch == "x86_64" else "aarch64"
    assert tags and all(t.startswith("cp312-cp312-manylinux") and t.endswith(machine) for t in tags)
    assert check_layer(path, arch, "3.12") == []


@pytest.mark.slow
def test_layer_report_describes_target_and_sizes(built):
    report = built["arm64"]
    assert report.ok
    assert report.imaging_module == "python/PIL/_imaging" + SUFFIX["arm64"]
    assert report.platform_tag == "cpython-312-aarch64-linux-gnu"
    assert report.imaging_elf_machine == "aarch64"
    assert report.describe().startswith("for AWS Lambda python3.12 arm64")
    assert report.zipped_bytes == report.path.stat().st_size
    assert 0 < report.zipped_bytes < report.unzipped_bytes < UNZIPPED_LIMIT_BYTES
    assert report.zipped_bytes < DIRECT_UPLOAD_LIMIT_BYTES


@pytest.mark.slow
def test_layer_pillow_version_matches_local_install_by_default(built):
    from importlib.metadata import version

    assert built["arm64"].pillow_version == version("pillow")
    with zipfile.ZipFile(built["arm64"].path) as zf:
        assert f"python/pillow-{version('pillow')}.dist-info/METADATA" in zf.namelist()


@pytest.mark.slow
def test_summary_names_each_zip_its_target_and_aws_limits(built):
    text = built["stdout"]
    assert "function.zip" in text and "pillow-layer.zip" in text
    assert "for AWS Lambda python3.12 x86_64" in text
    assert "_imaging" + SUFFIX["x86_64"] in text
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert f"local twin for this interpreter ({tag} " in text
    assert "use only in the sandbox" in text
    assert "of 50 MB" in text and "of 250 MB" in text


@pytest.mark.slow
def test_local_twin_imports_in_this_interpreter(built, tmp_path):
    twin = built["out"] / "pillow-layer-local.zip"
    assert check_layer(twin, local=True) == []
    with zipfile.ZipFile(twin) as zf:
        zf.extractall(tmp_path)
    # Like Lambda puts /opt/python on sys.path, put the twin's python/ first and import from it.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import PIL, PIL._imaging; "
        "from PIL import Image; Image.new('RGB', (4, 4)).reduce(2); print(PIL.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "python")], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().startswith(str(tmp_path / "python"))


@pytest.mark.slow
def test_check_layer_rejects_layer_built_for_the_other_arch(built):
    problems = check_layer(built["arm64"].path, arch="x86_64", python="3.12")
    assert any(
        "_imaging.cpython-312-aarch64-linux-gnu.so is not built for AWS Lambda python3.12 x86_64" in p
        for p in problems
    )
    assert any("compiled for aarch64" in p for p in problems)


@pytest.mark.slow
def test_check_layer_rejects_aws_layer_for_the_local_interpreter_when_they_differ(built):
    here = sysconfig.get_config_var("EXT_SUFFIX")
    if here == SUFFIX["arm64"]:
        pytest.skip("this interpreter is exactly Lambda's python3.12 arm64")
    assert check_layer(built["arm64"].path, local=True)


# ------------------------------------------------------------------ check_layer on hand-made zips


def test_check_layer_accepts_well_formed_fake_layer(tmp_path):
    assert check_layer(fake_layer(tmp_path / "l.zip", good_fake_files()), "x86_64", "3.12") == []


def test_check_layer_catches_module_for_wrong_python(tmp_path):
    files = good_fake_files()
    files["python/PIL/_imaging.cpython-311-x86_64-linux-gnu.so"] = files.pop(
        "python/PIL/_imaging.cpython-312-x86_64-linux-gnu.so"
    )
    problems = check_layer(fake_layer(tmp_path / "l.zip", files), "x86_64", "3.12")
    assert len(problems) == 1
    assert (
        "_imaging.cpython-311-x86_64-linux-gnu.so is not built for AWS Lambda python3.12 x86_64"
        in problems[0]
    )
    assert "_imaging.cpython-312-x86_64-linux-gnu.so" in problems[0]


def test_check_layer_catches_module_named_for_wrong_arch(tmp_path):
    files = good_fake_files()
    files["python/PIL/_imaging.cpython-312-aarch64-linux-gnu.so"] = files.pop(
        "python/PIL/_imaging.cpython-312-x86_64-linux-gnu.so"
    )
    problems = check_layer(fake_layer(tmp_path / "l.zip", files), "x86_64", "3.12")
    assert any("cpython-312-aarch64-linux-gnu.so is not built for" in p for p in problems)


def test_check_layer_catches_renamed_library_by_its_elf_header(tmp_path):
    # Right name, wrong content: an aarch64 binary renamed to the x86_64 tag.
    files = good_fake_files(elf=0xB7)
    problems = check_layer(fake_layer(tmp_path / "l.zip", files), "x86_64", "3.12")
    assert problems == [
        "python/PIL/_imaging.cpython-312-x86_64-linux-gnu.so is compiled for aarch64, but the "
        "target processor is x86_64 (Lambda architecture x86_64)."
    ]


def test_check_layer_catches_layer_built_on_a_mac(tmp_path):
    files = {
        "python/PIL/__init__.py": b"",
        "python/PIL/_imaging.cpython-312-darwin.so": b"\xcf\xfa\xed\xfe" + bytes(16),
        "python/pillow-13.0.0.dist-info/WHEEL": b"Tag: cp312-cp312-macosx_11_0_arm64\n",
    }
    problems = check_layer(fake_layer(tmp_path / "l.zip", files), "arm64", "3.12")
    text = "\n".join(problems)
    assert "cannot import name '_imaging'" in text
    assert "macOS (Mach-O) binary" in text
    assert "macosx_11_0_arm64" in text


def test_check_layer_catches_files_outside_python_folder(tmp_path):
    files = {name.removeprefix("python/"): data for name, data in good_fake_files().items()}
    problems = check_layer(fake_layer(tmp_path / "l.zip", files), "x86_64", "3.12")
    assert any("outside python/" in p for p in problems)
    assert any("No module named 'PIL'" in p for p in problems)


def test_check_layer_catches_wheel_too_new_for_amazon_linux_2(tmp_path):
    files = {
        name.replace("312", "311"): data.replace(b"312", b"311") for name, data in good_fake_files().items()
    }
    problems = check_layer(fake_layer(tmp_path / "l.zip", files), "x86_64", "3.11")
    assert problems == [
        "The Pillow wheel needs glibc 2.28, but python3.11 runs on Amazon Linux 2 (glibc 2.26); "
        "pick an older Pillow with --pillow-version."
    ]
    # The same wheel is fine for python3.12, which runs on Amazon Linux 2023 (glibc 2.34).
    assert check_layer(fake_layer(tmp_path / "m.zip", good_fake_files()), "x86_64", "3.12") == []


def test_check_layer_accepts_site_packages_layout_only_for_its_python(tmp_path):
    files = {
        name.replace("python/", "python/lib/python3.12/site-packages/"): data
        for name, data in good_fake_files().items()
    }
    path = fake_layer(tmp_path / "l.zip", files)
    assert check_layer(path, "x86_64", "3.12") == []
    assert any(
        "only for python3.12" in p for p in check_layer(path, "x86_64", "3.13") if "site-packages" in p
    )


# ------------------------------------------------------------------------------------ CLI errors


def _one_sentence(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_invalid_arch_is_one_sentence_and_exit_2(tmp_path, capsys):
    code = write_code_dir(tmp_path)
    assert run_cli(["--code-dir", str(code), "--out", str(tmp_path / "b"), "--arch", "aarch64"]) == 2
    captured = capsys.readouterr()
    line = _one_sentence(captured.err)
    assert "aarch64" in line and "x86_64 or arm64" in line
    assert not (tmp_path / "b").exists()


def test_unsupported_python_is_one_sentence_and_exit_2(tmp_path, capsys):
    code = write_code_dir(tmp_path)
    assert run_cli(["--code-dir", str(code), "--out", str(tmp_path / "b"), "--python", "2.7"]) == 2
    assert "python2.7 is not an AWS Lambda runtime" in _one_sentence(capsys.readouterr().err)


def test_unreachable_package_index_is_one_sentence_and_exit_2(tmp_path, capsys, monkeypatch):
    # A real pip against an index nobody listens on, as on a machine without network.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # ignore pip.conf (mirrors, find-links)
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple/")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    for var in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.delenv(var, raising=False)
    code = write_code_dir(tmp_path)
    rc = run_cli(["--code-dir", str(code), "--out", str(tmp_path / "b"), "--pillow-version", "12.2.0"])
    line = _one_sentence(capsys.readouterr().err)
    assert rc == 2
    assert line.startswith(
        "Could not reach the package index (PyPI) to download Pillow 12.2.0 for AWS Lambda python3.12 x86_64"
    )
    assert not (tmp_path / "b" / "pillow-layer.zip").exists()


def test_unknown_pillow_version_is_one_sentence_and_exit_2(tmp_path, capsys):
    code = write_code_dir(tmp_path)
    rc = run_cli(["--code-dir", str(code), "--out", str(tmp_path / "b"), "--pillow-version", "1.0.99"])
    line = _one_sentence(capsys.readouterr().err)
    assert rc == 2
    assert line.startswith("PyPI has no Pillow 1.0.99 wheel for AWS Lambda python3.12 x86_64")
    assert "--pillow-version" in line


def test_pip_that_cannot_start_is_a_packaging_error(tmp_path):
    with pytest.raises(PackagingError, match="Could not run pip"):
        build_pillow_layer(tmp_path / "l.zip", pillow_version="12.2.0", pip=[str(tmp_path / "no-such-pip")])
