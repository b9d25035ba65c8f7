# The two commands: `make run` (the demo on this machine) and `make test` (the whole suite).
# Everything they need is installed from here: the virtual environment from requirements-dev.lock
# (requirements.lock, what the Docker image installs, and the tools and tests on top),
# PostgreSQL and Redis started if they are down, Debian's Chromium for the browser tests.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Written after a successful install: pip runs again only when either lock file changes.
STAMP := $(VENV)/.installed-from-lock
PORT ?= 8000

# make test and make bench use PostgreSQL and Redis; Redis db 0 is theirs (make run, when it
# is given a REDIS_URL, should use another db number). Both can be given on the command line:
# make test TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/baton_me TEST_REDIS_URL=...
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/baton
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_ENV := env -u CELERY_BROKER_URL DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL)
# make test also runs the suite on make run's embedded default: no DATABASE_URL or REDIS_URL,
# so a SQLite file and the filesystem broker, in a VAR_DIR of their own (not make run's var/).
SQLITE_VAR_DIR := $(CURDIR)/var/test-sqlite
SQLITE_TEST_ENV := env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL VAR_DIR=$(SQLITE_VAR_DIR)

# $(call suite,NAME,ENVIRONMENT): the whole pytest suite in ENVIRONMENT; its outcome and time
# are added to $$summary, and a failure sets $$failed (exit 5, no tests collected, is one).
suite = echo; echo "=== make test on $(1) ==="; start=$$SECONDS; \
  $(2) $(BIN)/python -m pytest -p no:cacheprovider -ra; status=$$?; \
  case $$status in 0) outcome=passed ;; 5) outcome="FAILED (pytest collected no tests)" ;; \
    *) outcome="FAILED (pytest exit status $$status)" ;; esac; \
  [ $$status -eq 0 ] || failed=yes; \
  summary="$$summary"$$'\n'"make test on $(1): $$outcome in $$((SECONDS - start))s"

.DEFAULT_GOAL := help
.PHONY: help install run test lint bench

help:
	@echo "make run     install, migrate, load the demo, start web + worker + beat (Ctrl-C stops)"
	@echo "make test    ruff and the whole pytest suite twice, with a real worker and headless"
	@echo "             Chromium: on PostgreSQL and Redis, then on SQLite and the filesystem broker"
	@echo "make lint    ruff format --check and ruff check"
	@echo "make bench   the engine benchmark on PostgreSQL"
	@echo "make install the virtual environment in $(VENV) from requirements-dev.lock"

install: $(STAMP)

$(STAMP): requirements.lock requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
	  echo "Baton needs Python 3.11, and '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
	  echo "Run make with PYTHON=/path/to/python3.11."; exit 1; }
	@test -x $(BIN)/python || { echo "Creating the virtual environment in $(VENV)."; \
	  $(PYTHON) -m venv $(VENV); }
	@echo "Installing the pinned packages from requirements-dev.lock and requirements.lock."
	$(BIN)/python -m pip install --disable-pip-version-check -qq -r requirements-dev.lock
	@touch $@

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# The embedded default (no DATABASE_URL / REDIS_URL): SQLite in var/ and a broker in a folder.
# honcho gives each process its own PORT (web $(PORT), worker +100, beat +200): SITE_URL keeps
# the worker's links and the demo's payroll calls on the web server. LOG_SCHEDULED_TASKS=false:
# no log lines for the sweep every few seconds. `--env /dev/null`: .env is docker compose's
# (DEBUG off, its database), not make run's.
# Settings default to production (DEBUG off, no demo); make run is the development server with
# the demo, unless the environment says otherwise (`make run DEBUG=false` needs a SECRET_KEY).
run: export DEBUG ?= true
run: export DEMO_ENABLED ?= true
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@case "$${DEBUG:-}" in false|False|FALSE|0|off|Off|OFF) \
	  $(BIN)/python manage.py collectstatic --noinput ;; esac
	@echo
	@echo "Baton is starting at http://127.0.0.1:$(PORT)/"
	@echo "Log in as admin / demo (superuser), or as any demo login listed above (password demo)."
	@echo "Ctrl-C stops the web server, the worker and beat."
	@echo
	@PATH="$(CURDIR)/$(BIN):$$PATH" SITE_URL="$${SITE_URL:-http://127.0.0.1:$(PORT)}" \
	  LOG_SCHEDULED_TASKS="$${LOG_SCHEDULED_TASKS:-false}" PYTHONUNBUFFERED=1 \
	  $(BIN)/python scripts/run_procfile.py start --procfile Procfile.dev --env /dev/null \
	  --port $(PORT)

test: install
	@scripts/services.sh --browser
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	@rm -rf $(SQLITE_VAR_DIR)
	@failed=; summary=; \
	  $(call suite,PostgreSQL and Redis,$(TEST_ENV)); \
	  $(call suite,SQLite and the filesystem broker,$(SQLITE_TEST_ENV)); \
	  echo "$$summary"; [ -z "$$failed" ]

# DEBUG: the bench process is a development one (its payroll server runs with DEBUG off).
bench: export DEBUG ?= true
bench: install
	@scripts/services.sh --database baton
	$(TEST_ENV) $(BIN)/python manage.py bench
