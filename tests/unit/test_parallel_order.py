"""The order `make test` hands files to its workers (tests/helpers/scheduling.py): the longest first, each
file whole and in its own order."""

from __future__ import annotations

from types import SimpleNamespace

from helpers import scheduling


def _item(nodeid: str, slow: bool = False):
    return SimpleNamespace(nodeid=nodeid, get_closest_marker=lambda name: slow and name == "slow")


def test_files_go_longest_first_each_whole_and_in_its_own_order(monkeypatch, tmp_path):
    table = tmp_path / "file_seconds.json"
    table.write_text('{"tests/b.py": 50.0, "tests/c.py": 5.0}')
    monkeypatch.setattr(scheduling, "TABLE", table)
    items = [
        _item("tests/a.py::one"),
        _item("tests/a.py::two"),
        _item("tests/b.py::one"),
        _item("tests/c.py::one"),
        _item("tests/c.py::two"),
        _item("tests/d.py::one", slow=True),  # not in the table: counted by its slow tests
        _item("tests/b.py::two"),
    ]
    scheduling.longest_files_first(items)
    assert [i.nodeid for i in items] == [
        "tests/b.py::one",
        "tests/b.py::two",
        "tests/d.py::one",
        "tests/c.py::one",
        "tests/c.py::two",
        "tests/a.py::one",
        "tests/a.py::two",
    ]


def test_the_table_is_read_from_the_durations_pytest_prints():
    text = (
        "12.50s call     tests/x.py::test_a[p]\n"
        "1.00s setup    tests/x.py::test_a[p]\n"
        "0.40s teardown tests/y.py::test_b\n"
        "3.00s call     tests/z.py::TestC::test_c\n"
    )
    assert scheduling.table_from_durations(text) == {"tests/x.py": 13.5, "tests/z.py": 3.0}
