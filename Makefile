# The two commands of the README: `make demo` and `make test`. Both set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Local defaults from .env.example, overridden by .env, overridden by the caller's environment.
ENV := caller=$$(export -p); set -a; . ./.env.example; if [ -f .env ]; then . ./.env; fi; set +a; eval "$$caller";

.PHONY: venv prepare demo test dev lint format services tools test-tools clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# dbt's manifest is prepared once here (build/dev time), not at every run, with the configured
# environment: the manifest names the warehouse database (POSTGRES_DB) that metadata is read from.
prepare: venv
	$(ENV) cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir . --project-dir .

# Debian packages (database clients; for the tests also vsftpd, sshd, chromium, caddy...), installed
# only when missing: scripts/ensure_tools.sh holds the one list, shared with .ci/run.
tools:
	@bash scripts/ensure_tools.sh

test-tools:
	@bash scripts/ensure_tools.sh test

services: tools
	bash scripts/ensure_services.sh

demo: prepare services
	$(ENV) bash scripts/demo.sh

test: prepare services test-tools
	$(BIN)/pytest

dev: prepare services
	$(ENV) bash scripts/dev.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var dbt_project/target dbt_project/logs
