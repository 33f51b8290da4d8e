# Two commands are all a new user needs: `make demo` and `make test`.
# Each creates .venv and installs what it needs with nothing but Python 3.11+ on the machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint typecheck unit bench faults clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Stamp files: reinstall only when the project's dependency declaration changes.
$(VENV)/.installed-run: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -c constraints.txt -e '.[sandbox]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(PIP) install -c constraints.txt -e '.[sandbox,test]'
	touch $@

demo: $(VENV)/.installed-run
	$(BIN)/reconciler demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

unit: $(VENV)/.installed-test
	$(BIN)/pytest -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
