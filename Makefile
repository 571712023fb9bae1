# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=
# `make run` keeps its state across restarts here (run_local.py --state-dir; `run_local.py reset` empties it).
STATE_DIR ?= .sandbox-state

.PHONY: run test bench notebook clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "$(PYTHON) is Python " + sys.version.split()[0] + ": the sandbox needs 3.10 or newer; name one, e.g. make run PYTHON=python3.12")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip

# Reinstall when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

$(VENV)/.installed-notebook: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[notebook]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	@echo "Other commands, in another terminal: $(PY) run_local.py --help  (python run_local.py ... uses $(VENV) too)"
	$(PY) run_local.py --state-dir $(STATE_DIR) $(ARGS)

test: $(VENV)/.installed-test
	$(PY) -m pytest $(ARGS)

bench: $(VENV)/.installed-test
	$(PY) run_local.py bench $(ARGS)

notebook: $(VENV)/.installed-notebook
	$(PY) -m ipykernel install --sys-prefix --name lambda-sandbox --display-name "Python (lambda-sandbox)"
	$(VENV)/bin/jupyter lab notebooks/ $(ARGS)

clean:
	rm -rf $(VENV) build test-output .pytest_cache
