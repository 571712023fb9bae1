"""The packaging cache: a zip is reused only for unchanged files, an unpacked tree only when intact."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from sandbox.lambda_.packaging import PackageRefused, function_zip_bytes
from sandbox.lambda_.packaging.cache import cached_zip, folders_manifest, unpack_reusing

IGNORE = ("__pycache__", "*.md", "*.pyc")


class Builds:
    """A zip builder counting how often it really builds."""

    def __init__(self, folder: Path):
        self.folder, self.count = folder, 0

    def __call__(self) -> bytes:
        self.count += 1
        return function_zip_bytes(self.folder)


def _zip(root: Path, folder: Path, build: Builds) -> bytes:
    return cached_zip(folders_manifest([folder], IGNORE), build, root=root)


@pytest.fixture
def code(tmp_path) -> Path:
    folder = tmp_path / "code"
    (folder / "lib").mkdir(parents=True)
    (folder / "index.mjs").write_text("export const handler = async () => 'one';\n")
    (folder / "lib" / "helper.js").write_text("module.exports = 1;\n")
    (folder / "README.md").write_text("left out\n")
    return folder


def test_same_files_reuse_the_zip_and_a_changed_file_gives_a_new_one(tmp_path, code):
    build = Builds(code)
    first = _zip(tmp_path / "cache", code, build)
    assert _zip(tmp_path / "cache", code, build) == first
    assert build.count == 1

    (code / "index.mjs").write_text("export const handler = async () => 'two';\n")
    os.utime(code / "index.mjs", ns=(1, 1))  # a new time, whatever the clock's resolution
    changed = _zip(tmp_path / "cache", code, build)
    assert build.count == 2
    assert changed != first
    assert changed == function_zip_bytes(code)
    with zipfile.ZipFile(__import__("io").BytesIO(changed)) as zf:
        assert zf.read("index.mjs").endswith(b"'two';\n")


def test_a_left_out_file_does_not_change_the_key(tmp_path, code):
    build = Builds(code)
    _zip(tmp_path / "cache", code, build)
    (code / "README.md").write_text("edited, and never in the zip\n")
    _zip(tmp_path / "cache", code, build)
    assert build.count == 1


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_a_damaged_cached_zip_is_not_used(tmp_path, code, damage):
    build = Builds(code)
    expected = _zip(tmp_path / "cache", code, build)
    (entry,) = (tmp_path / "cache" / "zips").glob("*.zip")
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2] if damage == "truncated" else data[:-1] + bytes([data[-1] ^ 1]))
    assert _zip(tmp_path / "cache", code, build) == expected
    assert build.count == 2


def test_cache_files_are_private(tmp_path, code):
    _zip(tmp_path / "cache", code, Builds(code))
    (entry,) = (tmp_path / "cache" / "zips").glob("*.zip")
    assert stat.S_IMODE(os.stat(tmp_path / "cache" / "zips").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(entry).st_mode) == 0o600


def test_a_cache_folder_others_can_write_is_not_used(tmp_path, code):
    (tmp_path / "cache" / "zips").mkdir(parents=True)
    os.chmod(tmp_path / "cache" / "zips", 0o777)
    build = Builds(code)
    _zip(tmp_path / "cache", code, build)
    _zip(tmp_path / "cache", code, build)
    assert build.count == 2
    assert list((tmp_path / "cache" / "zips").iterdir()) == []


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_an_unpacked_package_is_reused_for_the_same_zip(tmp_path, code):
    (code / "bootstrap").write_text("#!/bin/sh\n")
    os.chmod(code / "bootstrap", 0o755)
    package = function_zip_bytes(code)
    root = tmp_path / "cache"
    first = unpack_reusing(package, tmp_path / "a", root=root, min_zip_bytes=0)
    second = unpack_reusing(package, tmp_path / "b", root=root, min_zip_bytes=0)
    assert _files(first) == _files(second) == _files(code)
    assert _files(second)["bootstrap"][1] == 0o755
    # the second is the cached tree's files, linked
    assert os.stat(second / "index.mjs").st_ino == os.stat(first / "index.mjs").st_ino


def test_a_changed_or_partial_cached_tree_is_not_used(tmp_path, code):
    package = function_zip_bytes(code)
    root = tmp_path / "cache"
    unpack_reusing(package, tmp_path / "a", root=root, min_zip_bytes=0)
    (tree,) = [p for p in (root / "trees").iterdir() if p.is_dir()]
    (tree / "index.mjs").write_text("tampered\n")  # in place: every link to it sees it
    fresh = unpack_reusing(package, tmp_path / "b", root=root, min_zip_bytes=0)
    assert _files(fresh) == _files(code)

    (tree,) = [p for p in (root / "trees").iterdir() if p.is_dir()]
    (tree / "lib" / "helper.js").unlink()  # a tree missing a file, as a crash while writing leaves it
    assert _files(unpack_reusing(package, tmp_path / "c", root=root, min_zip_bytes=0)) == _files(code)

    (record,) = (root / "trees").glob("*.json")
    record.write_bytes(record.read_bytes()[:-3])  # the record cut short
    assert _files(unpack_reusing(package, tmp_path / "d", root=root, min_zip_bytes=0)) == _files(code)


def test_a_refused_package_is_refused_with_or_without_the_cache(tmp_path):
    root = tmp_path / "cache"
    with pytest.raises(PackageRefused, match="Could not unzip"):
        unpack_reusing(b"not a zip" * 10, tmp_path / "a", root=root, min_zip_bytes=0)
    assert not (tmp_path / "a").exists()
    assert [p.name for p in (root / "trees").iterdir()] == []


def test_a_tree_that_changes_while_it_is_linked_is_not_used(tmp_path, code, monkeypatch):
    from sandbox.lambda_.packaging import cache

    package = function_zip_bytes(code)
    root = tmp_path / "cache"
    unpack_reusing(package, tmp_path / "a", root=root, min_zip_bytes=0)
    real_copytree = shutil.copytree

    def copytree_while_another_start_replaces_the_tree(source, target, **options):
        copied = real_copytree(source, target, **options)
        (Path(target) / "lib" / "helper.js").unlink()  # as if removed from the tree during the copy
        return copied

    monkeypatch.setattr(cache, "_link_tree", copytree_while_another_start_replaces_the_tree)
    assert _files(unpack_reusing(package, tmp_path / "b", root=root, min_zip_bytes=0)) == _files(code)
