# Two commands are all a new user needs: `make demo` and `make test`.
# Each creates .venv and installs what it needs with nothing but Python 3.11+ on the machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint typecheck unit bench faults clean

# Installs go through uv (pinned in constraints.txt; pip installs it): the same pins as pip, about
# three times as fast (parallel downloads, unpacking and byte-compiling: 8 s against 21 s for the
# test install on 2 cores). Where uv cannot be installed, or its install fails, pip installs.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -c constraints.txt uv || echo "uv could not be installed: pip installs instead"

# $(call install,EXTRAS): the project, editable, with EXTRAS (separated by $(comma)).
comma := ,
define install
	if [ -x $(BIN)/uv ] && $(BIN)/uv pip install --python $(BIN)/python --native-tls \
		--compile-bytecode -q -c constraints.txt -e '.[$(1)]'; then :; \
	else echo "installing with pip (no uv, or its install failed)"; \
		$(PIP) install -c constraints.txt -e '.[$(1)]'; fi
endef

# Stamp files: reinstall only when the project's dependency declaration changes. The test
# install is one run (it covers what `demo` needs too, so it stamps both).
$(VENV)/.installed-run: $(BIN)/python pyproject.toml constraints.txt
	$(call install,sandbox)
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml constraints.txt
	$(call install,sandbox$(comma)test)
	touch $@ $(VENV)/.installed-run

# The benchmark's peers (aws-sso-lib) on top of the test install.
$(VENV)/.installed-bench: $(VENV)/.installed-test pyproject.toml constraints.txt
	$(call install,sandbox$(comma)test$(comma)bench)
	touch $@

demo: $(VENV)/.installed-run
	$(BIN)/reconciler demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy
	$(BIN)/mypy --strict --explicit-package-bases scripts/fault_campaign.py scripts/iam_docs.py \
		scripts/deploy_policies.py scripts/status_page_screenshot.py

# pytest-xdist: TEST_WORKERS worker processes, each with its own sandboxes; an idle worker takes
# tests from a busy one (`--dist worksteal`). Four per core: most tests wait (sandbox delays,
# rate limits, lease renewals, CLI children), and the other workers keep the cores busy meanwhile
# (on 2 cores, pytest took 169 s with 5 workers, 156 s with 8 and 163 s with 10).
# `make unit TEST_WORKERS=0` runs the suite serially in one process. Two caches first, because
# where PYTHONDONTWRITEBYTECODE is set nothing else would write them: compileall, or each of the
# suite's hundreds of `python -m reconciler` subprocesses would compile the package again; and
# one collection with bytecode writing on, which stores pytest's assertion-rewritten test
# modules, or every worker would rewrite all of them again (about 2 s of CPU each). That
# collection only fills a cache: whatever it meets (a module that does not import, an xdist option
# in PYTEST_ADDOPTS) the run after it reports.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(4 * len(os.sched_getaffinity(0)))' \
	2>/dev/null || echo auto)

unit: $(VENV)/.installed-test
	$(BIN)/python -m compileall -q reconciler
	-env -u PYTHONDONTWRITEBYTECODE -u PYTEST_ADDOPTS $(BIN)/pytest -q --collect-only \
		-p no:xdist >/dev/null 2>&1
	FULL_TEST_SESSION=1 $(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal

# The linters and type checks run in the background beside the tests (they use a core while tests
# wait). The tests print as they go; the checks' output follows theirs, and the last line says
# what failed, if anything.
test: $(VENV)/.installed-test
	@$(MAKE) --no-print-directory -k lint typecheck >$(VENV)/checks.log 2>&1 & checks=$$!; \
	$(MAKE) --no-print-directory unit; tests=$$?; \
	wait $$checks; checked=$$?; \
	echo; echo "--- lint and type checks (make lint typecheck) ---"; cat $(VENV)/checks.log; \
	failed=""; [ $$tests -eq 0 ] || failed="tests"; \
	[ $$checked -eq 0 ] || failed="$${failed:+$$failed and }lint or type checks (above)"; \
	if [ -n "$$failed" ]; then echo "make test FAILED: $$failed"; exit 1; fi; \
	echo "make test passed: lint, type checks and tests"

# Not a test: prints four tables (read calls, wall time under AWS-like limits, planning, no-op
# pass) and writes benchmarks/latest.json. A few minutes on 2 cores; see docs/benchmarks.md.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks.bench

# Not a test: reconciles a generated organization (20 accounts, 15 permission sets, 50 groups,
# 200 users, 500 assignments) through many passes under injected faults and random kills.
# Minutes; the last line reads converged=yes duplicates=0 unintended_deletions=0 access_gaps=0
# when all is well (judged against the generated documents, not the product's planner).
faults: $(VENV)/.installed-test
	$(BIN)/python scripts/fault_campaign.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
