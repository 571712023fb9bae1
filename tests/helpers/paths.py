"""The project's folders, as the tests find them."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
PROJECT_ROOT = TESTS.parent
HANDLER_DIR = PROJECT_ROOT / "handler"
SAMPLES = PROJECT_ROOT / "sample_images"
TEST_OUTPUT = PROJECT_ROOT / "test-output"
RUN_LOCAL = PROJECT_ROOT / "run_local.py"
# Data folders of the tests: purpose-built functions, events, AWS's published SAM applications.
HANDLERS = TESTS / "handlers"
EVENTS = TESTS / "events"
SAM_APPS = TESTS / "sam_apps"
FIDELITY_REFERENCES = TESTS / "fidelity" / "references"
# The real-world image corpus, beside the project (tests that read it skip when it is absent).
REALWORLD = PROJECT_ROOT.parent / "shared" / "testdata" / "realworld"
