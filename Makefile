# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip --disable-pip-version-check -q
TOOLS := .tools
ANVIL := $(TOOLS)/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
# The console's browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
CHROMIUM := /usr/bin/chromium
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck unit bench bench-ingest bench-diagnosis bench-tx-batch bench-floor bench-load wrk clean install install-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel 2>/dev/null

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e . 2>&1 | grep -v "is ignored: it is neither" || true
	$(BIN)/python -c "import services.cli, web3, tronpy" 
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[test]' 2>&1 | grep -v "is ignored: it is neither" || true
	$(BIN)/python -c "import pytest, respx, ruff" 
	touch $@

$(ANVIL):
	mkdir -p $(TOOLS)
	cd $(TOOLS) && npm install --no-audit --no-fund --silent @foundry-rs/anvil-linux-amd64@1
	chmod +x $(ANVIL)
	$(ANVIL) --version

$(CHROMIUM):
	$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y -q chromium fonts-noto-cjk
	$(CHROMIUM) --version

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test $(ANVIL) $(CHROMIUM)

## make run: install into .venv, migrate, and serve both services in one process on :8000
run: install
	$(BIN)/order-support migrate
	$(BIN)/order-support serve --host $(HOST) --port $(PORT)

## make test: install what tests need (anvil included), lint, type-check, run every test
test: install-test lint typecheck unit

lint: $(VENV)/.installed-test
	$(BIN)/ruff check services tests bench alembic

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy services bench/*.py

unit: install-test
	ANVIL_BIN=$(abspath $(ANVIL)) $(BIN)/pytest -q -p no:cacheprovider

## make bench: every benchmark (each prints its figures); or one of bench-ingest, ...
bench: bench-ingest bench-diagnosis bench-tx-batch bench-floor bench-load

bench-ingest: install-test
	$(BIN)/python bench/ingest.py

bench-diagnosis: install-test
	$(BIN)/python bench/diagnosis.py

bench-tx-batch: install-test
	$(BIN)/python bench/tx_batch.py

# wrk (Debian's package) drives bench-floor and bench-load.
wrk:
	@command -v wrk >/dev/null || (apt-get install -y -qq wrk || (apt-get update -qq && apt-get install -y -qq wrk))

bench-floor: install-test wrk
	$(BIN)/python bench/floor.py

bench-load: install-test wrk
	$(BIN)/python bench/load.py
	$(BIN)/python bench/load.py --sqlite

clean:
	rm -rf $(VENV) $(TOOLS) order_support.db*
