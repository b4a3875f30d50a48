# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed

.PHONY: demo test lint install browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	$(PIP) install -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
	# ib_insync 0.9.86 is tested as a client of the gateway; its old eventkit pin would overwrite
	# ib_async's maintained fork (both install the `eventkit` module), so it goes in without deps.
	$(PIP) install --no-deps 'ib_insync==0.9.86' 2>&1 | grep -v '^WARNING: Location' || true
	$(PY) -c "import ibxl, ib_async, ib_insync, ibapi, duckdb, xlwings" 
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests (installed when missing and we may use apt).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
		else echo "chromium missing: run 'sudo apt-get install chromium'"; exit 0; fi; \
		($$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null) \
			|| echo "chromium install failed"; \
	fi

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

# every process the tests start inherits this marker ("<start time>-<random>"); the last step of
# `make test` lists any still running and fails
test: export IBXL_TEST_RUN := $(shell date +%s)-$(shell od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
test: $(STAMP) browser
	$(PY) -m ruff check .
	$(PY) -m mypy
	IBXL_REQUIRE_BROWSER=1 $(PY) -m pytest -q
	# the notebooks run top to bottom against the embedded gateway, their kernels attached to a hub of
	# their own (caches and hub in a scratch directory); the hub is stopped whatever the outcome
	tmp=$$(mktemp -d) && export IBXL_HUB=1 IBXL_HUB_DIR=$$tmp/hub IBXL_CACHE_DIR=$$tmp/cache IBXL_DATA_DIR=$$tmp/data; \
		$(PY) -m pytest -q -p no:cacheprovider --nbval-lax notebooks ibxl/dashboard; rc=$$?; \
		$(PY) -m ibxl hub stop >/dev/null; rm -rf $$tmp; exit $$rc
	# nothing the tests started may outlive them (servers, kernels, gateways, hubs, browsers)
	$(PY) tests/leftovers.py

demo: $(STAMP)
	$(PY) -m ibxl demo

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
