# Relais — two commands: `make run` (set up + demo) and `make test` (set up + whole suite).
# `make run` installs only what serving needs; the test and lint tools come with `make test`,
# `make check` and the other test targets (a stamp of their own).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
PO     := $(wildcard server/locale/*/LC_MESSAGES/messages.po)
MO     := $(PO:.po=.mo)

.PHONY: setup setup-test demo-reset run test test-sqlite test-postgres test-unit test-security test-e2e check format translations extract-messages clean \
	bench bench-quick bench-setup

setup: $(VENV)/.installed node_modules/.installed $(MO)

setup-test: setup $(VENV)/.test-installed

$(VENV)/.installed: pyproject.toml
	bash scripts/ensure-build-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# Playwright, pytest, hypothesis, ruff, mypy…: for the tests and checks, not for serving.
$(VENV)/.test-installed: $(VENV)/.installed
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

# Back to the demo's first state (deletes everything in the demo database; refuses a
# database that holds real data). Works on SQLite and on RELAIS_DATABASE_URL's PostgreSQL.
demo-reset: setup
	$(BIN)/relais demo --reset

# The layers' contract, then the whole suite twice: on SQLite (the embedded default) and on
# PostgreSQL (production).
test: setup-test
	bash scripts/ensure-test-services.sh
	$(BIN)/lint-imports
	PYTEST=$(BIN)/pytest bash scripts/run-suites.sh

test-sqlite: setup-test
	bash scripts/ensure-test-services.sh
	$(BIN)/pytest

test-postgres: setup-test
	bash scripts/ensure-test-services.sh
	RELAIS_TEST_DATABASE=postgresql $(BIN)/pytest

test-unit: setup-test
	$(BIN)/pytest tests/unit

# The attacker's view: isolation, CSRF and Origin, injection, limits, sign-in, schemathesis.
test-security: setup-test
	$(BIN)/pytest tests/security

test-e2e: setup-test
	bash scripts/ensure-test-services.sh
	$(BIN)/pytest tests/e2e

check: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup-test
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
