# The two commands the README names: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test setup lint typecheck pytest bench clean-venv contracts node_modules

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

test: $(VENV)/.installed-dev node_modules
	@$(PY) scripts/check_services.py
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/mypy .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev node_modules
	$(PY) bench/ledger.py
	$(PY) bench/anchoring.py
