# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=
# `make run` keeps its state across restarts here (run_local.py --state-dir; `run_local.py reset` empties it).
STATE_DIR ?= .sandbox-state
# Python writes the bytecode of what it imports (__pycache__, ignored by git) even where the environment
# says PYTHONDONTWRITEBYTECODE, as many CI images do: without it every start of run_local.py or of a test
# worker compiles the sandbox's modules again (~0.3 s of CPU each time; functions run with -I, which caches).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-quick test-pythons lint fmt bench notebook clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "$(PYTHON) is Python " + sys.version.split()[0] + ": the sandbox needs 3.10 or newer; name one, e.g. make run PYTHON=python3.12")'
	$(PYTHON) -m venv $(VENV)

# uv (from PyPI, into the venv) installs the packages: it downloads and unpacks them in parallel, and leaves
# their bytecode to be written as they are first imported: a fresh clone is ready in ~20 s, against ~45 s
# with pip. `pip install -e .` installs the same (docs/getting-started.md). Reinstall when pyproject.toml changes.
INSTALL = $(VENV)/bin/uv pip install --quiet --python $(PY)
$(VENV)/bin/uv: | $(PY)
	$(PY) -m pip install --quiet uv

$(VENV)/.installed-run: pyproject.toml | $(VENV)/bin/uv
	$(INSTALL) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/uv
	$(INSTALL) -e '.[test]'
	touch $@ $(VENV)/.installed-run

$(VENV)/.installed-notebook: pyproject.toml | $(VENV)/bin/uv
	$(INSTALL) -e '.[notebook]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	@echo "Other commands, in another terminal: $(PY) run_local.py --help  (python run_local.py ... uses $(VENV) too)"
	$(PY) run_local.py --state-dir $(STATE_DIR) $(ARGS)

# `make test`: everything, in two passes. Tests that share the cores run on WORKERS processes (pytest-xdist;
# --dist loadfile keeps each file in one worker: its module sandbox starts once, moto's state stays in one
# process; --no-loadscope-reorder hands out the files in collection order, which tests/conftest.py makes
# the longest first); then the tests marked `serial` (CPU or latency against the wall clock) run alone. Both
# passes always run; the exit status fails if either failed (5, "no tests collected", counts as none failed).
# WORKERS is 3 on 2 cores: most tests wait (on processes, the function's CPU share, a browser) about half
# the time, and a third worker fills those waits.
# ARGS narrows both, e.g. ARGS=tests/unit or ARGS="-k cpu".
# `make test-quick`: the edit loop (well under a minute): the tests in QUICK that are neither slow nor serial.
WORKERS ?= 3
PYTEST_PARALLEL = $(PY) -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder
QUICK ?= tests/unit tests/integration/endpoint tests/integration/web tests/integration/handler \
         tests/integration/telemetry

test: $(VENV)/.installed-test lint
	$(PYTEST_PARALLEL) -m "not serial" $(ARGS); first=$$?; \
	$(PY) -m pytest -m serial $(ARGS); second=$$?; \
	for status in $$first $$second; do [ $$status -eq 0 ] || [ $$status -eq 5 ] || exit $$status; done

test-quick: $(VENV)/.installed-test
	$(PYTEST_PARALLEL) -m "not slow and not serial" $(QUICK) $(ARGS)

# `make test-pythons`: test-quick again on the other Pythons CI covers (3.10, the oldest the sandbox supports,
# and 3.13), each in a venv of its own (.venv-3.10, .venv-3.13). A Python not found is named and skipped.
OTHER_PYTHONS ?= $(wildcard $(HOME)/.pyenv/versions/3.10.*/bin/python) \
                 $(wildcard $(HOME)/.pyenv/versions/3.13.*/bin/python)
test-pythons:
	@for version in 3.10 3.13; do \
	    python=$$(for p in $(OTHER_PYTHONS); do case $$p in *versions/$$version.*) echo $$p;; esac; done | tail -n 1); \
	    [ -n "$$python" ] || python=$$(command -v python$$version || true); \
	    if [ -z "$$python" ]; then echo "test-pythons: no Python $$version here (pyenv or python$$version on PATH): skipped"; continue; fi; \
	    $(MAKE) --no-print-directory test-quick PYTHON=$$python VENV=.venv-$$version || exit $$?; \
	done

# ruff: the lint rules and the format in pyproject.toml ([tool.ruff]); `make fmt` applies what it can.
lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(VENV)/.installed-test
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV)/.installed-test
	$(PY) run_local.py bench $(ARGS)

notebook: $(VENV)/.installed-notebook
	$(PY) -m ipykernel install --sys-prefix --name lambda-sandbox --display-name "Python (lambda-sandbox)"
	$(VENV)/bin/jupyter lab notebooks/ $(ARGS)

clean:
	rm -rf $(VENV) build test-output .pytest_cache
