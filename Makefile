# The two commands of the README, `make run` and `make test`, each bootstrap .venv on their own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The exact versions (and hashes) CI passed with; pyproject.toml keeps the supported ranges.
LOCK := requirements.lock
LOCK_TOOLS := .lock-tools
LOCK_ARGS ?= --upgrade

.PHONY: run test check format bench lock clean

# Everything from the lock, hashes checked; then Hazina itself, with nothing resolved anew (and
# built with the locked setuptools, not one fetched for an isolated build).
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hazina serve

test: $(STAMP)
	$(BIN)/pytest

check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# bench/api.py drives the server with Debian's wrk (a compiled load generator, so the client is
# not what is measured); installed here when missing, as .ci/run installs chromium.
bench: $(STAMP)
	command -v wrk >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python bench/run.py

# Re-resolve the lock within pyproject.toml's ranges: every pin upgraded by default,
# LOCK_ARGS='--upgrade-package fastapi' for one, LOCK_ARGS= to only add what pyproject gained.
lock:
	test -x $(LOCK_TOOLS)/bin/pip-compile || \
		($(PYTHON) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/python -m pip install --quiet pip-tools)
	$(LOCK_TOOLS)/bin/pip-compile --quiet $(LOCK_ARGS) --generate-hashes --extra dev \
		--build-deps-for editable \
		--strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--output-file $(LOCK) pyproject.toml

clean:
	rm -rf $(VENV) $(LOCK_TOOLS) .pytest_cache .mypy_cache .ruff_cache hazina.db hazina.db-wal hazina.db-shm
