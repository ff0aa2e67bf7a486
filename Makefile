# The two commands the README names: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test setup bench contracts node_modules browser

$(VENV)/.installed-run: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -r requirements.txt 2> >(grep -v '^WARNING: Location' >&2)
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed-run
	$(PIP) install --quiet -r requirements-dev.txt 2> >(grep -v '^WARNING: Location' >&2)
	@touch $@

# Solidity compiler and the local chain (anvil) for the on-chain ledger, pinned in package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node_modules: node_modules/.installed

contracts: node_modules
	node scripts/compile_contracts.js

setup: $(VENV)/.installed-run node_modules
	@$(PY) scripts/check_services.py --create-db
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py setup_periodic_tasks
	$(PY) manage.py load_demo

run: setup
	@$(PY) scripts/run_platform.py

# The live-ticket page test drives Debian's chromium through Playwright (never `playwright
# install`). CI machines start fresh: when /usr/bin/chromium is missing and we are root, install
# Debian's package; otherwise say how, and the page test reports it.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the page test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "warning: /usr/bin/chromium is missing: sudo apt-get install chromium" >&2; \
	  fi; \
	fi

test: $(VENV)/.installed-dev node_modules browser
	@$(PY) scripts/check_services.py
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/mypy .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev node_modules
	$(PY) bench/ledger.py
	$(PY) bench/placement.py
	$(PY) bench/settlement.py
	$(PY) bench/grading.py
	$(PY) bench/rounds.py
	$(PY) bench/payouts.py
	$(PY) bench/realtime.py
	$(PY) bench/anchoring.py
