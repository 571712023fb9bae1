"""The order in which `make test` hands test files to its workers: the longest first.

pytest-xdist (--dist loadfile) gives each worker a whole file at a time, in collection order when run with
--no-loadscope-reorder (its own default order is by number of tests, which puts the few-test files that
take minutes - notebooks, the docs' commands, the examples - last, so one worker is still busy with them
while the others wait). The seconds per file are those of a full run, in tests/file_seconds.json; a file
not listed counts SLOW_TEST_S for each test marked slow. Refresh the table from a run's durations:
``pytest ... --durations=0 > durations.txt; python tests/helpers/scheduling.py durations.txt``.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

TABLE = Path(__file__).resolve().parent.parent / "file_seconds.json"
SLOW_TEST_S = 10.0  # a file missing from the table: this much for each of its tests marked slow
TEST_S = 0.05  # and this much for each other test


def _file_of(item) -> str:
    return item.nodeid.split("::", 1)[0]


def longest_files_first(items: list) -> None:
    """Reorder ``items`` in place: whole files, the longest first; a file's own order is kept."""
    known = json.loads(TABLE.read_text()) if TABLE.is_file() else {}
    guessed: Counter = Counter()
    for item in items:
        guessed[_file_of(item)] += SLOW_TEST_S if item.get_closest_marker("slow") else TEST_S
    seconds = {name: known.get(name, guess) for name, guess in guessed.items()}
    items.sort(key=lambda item: -seconds[_file_of(item)])  # stable: each file's tests stay together, in order


def table_from_durations(text: str) -> dict[str, float]:
    """Seconds per file (setup, call and teardown) from the lines ``pytest --durations=0`` prints."""
    seconds: Counter = Counter()
    for match in re.finditer(r"^([\d.]+)s (?:setup|call|teardown)\s+(\S+?)::", text, re.M):
        seconds[match.group(2)] += float(match.group(1))
    return {name: round(s, 1) for name, s in seconds.most_common() if s >= 1}


if __name__ == "__main__":
    TABLE.write_text(json.dumps(table_from_durations(Path(sys.argv[1]).read_text()), indent=1) + "\n")
