# Two entry points, both from a fresh clone: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test setup setup-test lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

TEST_PLUGIN := tests/plugins/sigarchive-testplugin

# The archive alone (what `make serve` needs).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# Test tools, and the out-of-tree plugin package the tests load through its entry points.
$(VENV)/.installed-test: $(VENV)/.installed $(TEST_PLUGIN)/pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet -e $(TEST_PLUGIN)
	touch $@

setup: $(VENV)/.installed

# Debian's PostgreSQL server binaries: the tests start their own cluster, they need initdb.
setup-test: $(VENV)/.installed-test
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
	@command -v openssl >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl; }
	@command -v curl >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl; }

serve: setup
	$(BIN)/sigarchive serve --host $(HOST) --port $(PORT)

test: setup-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: setup-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: setup-test
	$(BIN)/python bench/bench_upload.py
	$(BIN)/python bench/bench_enhance.py
	$(BIN)/python bench/bench_s3.py
