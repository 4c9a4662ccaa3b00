# Relais — two commands: `make run` (set up + demo) and `make test` (set up + whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
PO     := $(wildcard server/locale/*/LC_MESSAGES/messages.po)
MO     := $(PO:.po=.mo)

.PHONY: setup run test test-sqlite test-postgres test-unit test-security test-e2e check format translations extract-messages clean \
	bench bench-quick bench-setup

setup: $(VENV)/.installed node_modules/.installed $(MO)

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

server/locale/%/LC_MESSAGES/messages.mo: server/locale/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile -d server/locale -D messages -l $* >/dev/null

translations: $(MO)

# Refresh the catalogs from the code and templates (then translate the new entries).
extract-messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -k pgettext:1c,2 -o server/locale/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i server/locale/messages.pot -d server/locale -D messages --no-fuzzy-matching

run: setup
	RELAIS_DEMO=1 HOST=$(HOST) PORT=$(PORT) $(BIN)/relais serve

# The layers' contract, then the whole suite twice: on SQLite (the embedded default) and on
# PostgreSQL (production).
test: setup
	bash scripts/ensure-test-services.sh
	$(BIN)/lint-imports
	PYTEST=$(BIN)/pytest bash scripts/run-suites.sh

test-sqlite: setup
	bash scripts/ensure-test-services.sh
	$(BIN)/pytest

test-postgres: setup
	bash scripts/ensure-test-services.sh
	RELAIS_TEST_DATABASE=postgresql $(BIN)/pytest

test-unit: setup
	$(BIN)/pytest tests/unit

# The attacker's view: isolation, CSRF and Origin, injection, limits, sign-in, schemathesis.
test-security: setup
	$(BIN)/pytest tests/security

test-e2e: setup
	bash scripts/ensure-test-services.sh
	$(BIN)/pytest tests/e2e

check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The fan-out benchmark (BENCHMARKS.md): its own extras, the Channels peer's included.
bench-setup: $(VENV)/.bench-installed

$(VENV)/.bench-installed: bench/requirements.txt bench/requirements-peer.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt -r bench/requirements-peer.txt
	touch $@

bench: setup bench-setup
	$(BIN)/python -m bench.run

bench-quick: setup bench-setup
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
