# TinyLink: `make run` to try it, `make test` to test it. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PG_URL ?= postgres://postgres@127.0.0.1:5432
RUN_PORT ?= 8000
PYTEST_ARGS ?=
BENCH_ARGS ?=
LOCK_ARGS ?=

.PHONY: help run serve test test-fast lint test-sqlite test-postgres migrate static clean bench lock screenshots

help:
	@echo "make run        - set up .venv, migrate, serve on http://127.0.0.1:8000 (SQLite) with the ops worker"
	@echo "make serve      - the production entry point: gunicorn -c deploy/gunicorn.conf.py"
	@echo "make test       - ruff, then the whole suite on SQLite and on PostgreSQL"
	@echo "make test-fast  - the edit loop: SQLite only, tests not marked slow (under a minute)"
	@echo "make bench      - redirect throughput vs the bare-WSGI ceiling (wrk; minutes)"
	@echo "make lock       - regenerate requirements.lock from requirements.txt (PyPI)"
	@echo "make screenshots - redraw README's docs/img/*.png: demo data, gunicorn, Chromium"

# Stamps make the second run fast: pip runs again only when the lock or a
# requirements file changed. The runtime comes from the lock, hashes checked,
# exactly as the image installs it; the dev tools go on top, held to the
# lock's versions so that .venv runs what the image runs.
$(VENV)/.runtime: requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	@touch $@

# The lock's pins without its hashes as constraints: a constraints file with
# hashes would put pip in hash-checking mode for the dev tools too, which have
# none (a fresh clone failed there).
$(VENV)/.dev: requirements.txt requirements-dev.txt requirements.lock $(VENV)/.runtime
	grep -E '^[A-Za-z0-9]' requirements.lock | sed -e 's/ *\\$$//' > $(VENV)/lock-constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c $(VENV)/lock-constraints.txt
	@touch $@

# Every runtime package with the sha256 of every file PyPI has for it (all
# platforms, so the image's too); existing pins are kept unless
# LOCK_ARGS=--upgrade (or --upgrade-package NAME). tests/test_dependency_lock.py
# fails while requirements.txt, the lock and .venv disagree.
lock: $(VENV)/.dev
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --index-url https://pypi.org/simple --no-emit-index-url --no-emit-find-links \
	  --output-file requirements.lock $(LOCK_ARGS) requirements.txt

# A random SECRET_KEY on first run; never overwritten, never committed.
.env:
	@$(PYTHON) -c "import secrets; print('SECRET_KEY=' + secrets.token_urlsafe(50))" > $@
	@chmod 600 $@
	@echo "Wrote a new SECRET_KEY to .env"

migrate: $(VENV)/.runtime .env
	$(PY) manage.py migrate --noinput

static: $(VENV)/.runtime .env
	$(PY) manage.py collectstatic --noinput --verbosity 0

# The development server with the operations worker beside it (the admin's
# buttons and the schedules need one), each in a process group of its own
# (set -m) and waited for by the shell, so that whatever stops the recipe --
# Ctrl-C, a SIGTERM to make (an IDE's stop button), runserver failing to
# start -- the EXIT trap stops both groups: runserver with its autoreloader
# child, and the worker, which finishes a run under way first. In the
# foreground, runserver held the shell's traps back until it ended by itself.
# tests/opsconsole/test_worker_make_run.py runs this recipe.
run: migrate static
	set -m; \
	$(PY) manage.py opsworker & worker=$$!; \
	$(PY) manage.py runserver 127.0.0.1:$(RUN_PORT) & server=$$!; \
	trap 'kill -TERM -- -$$server -$$worker 2>/dev/null; wait' EXIT; \
	trap 'exit 130' INT TERM HUP; \
	wait $$server

serve: migrate static
	$(VENV)/bin/gunicorn config.wsgi -c deploy/gunicorn.conf.py

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

test: lint test-sqlite test-postgres

test-sqlite: $(VENV)/.dev .env static
	@echo "=== test suite on SQLite ==="
	DATABASE_URL=sqlite:///data/ci.db $(VENV)/bin/pytest $(PYTEST_ARGS)

# The edit loop: SQLite only, without the tests marked slow (gunicorn, the
# browser, manage.py in a process of its own). Not a substitute for `make test`,
# which CI runs.
test-fast: $(VENV)/.dev .env static
	@echo "=== fast tests on SQLite (not slow) ==="
	DATABASE_URL=sqlite:///data/ci.db $(VENV)/bin/pytest -m "not slow" $(PYTEST_ARGS)

# A throwaway database of our own, dropped on the way out whatever happens;
# pytest-django creates and drops its own test_ database beside it.
test-postgres: $(VENV)/.dev .env static
	@if ! $(PY) -c "import psycopg; psycopg.connect('$(PG_URL)/postgres', connect_timeout=3).close()" 2>/dev/null; then \
	  echo "!!! PostgreSQL at $(PG_URL) is not reachable: PostgreSQL tests SKIPPED !!!"; \
	  if [ "$${CI:-}" = "true" ]; then echo "CI=true: skipping PostgreSQL is a failure"; exit 1; fi; \
	  exit 0; \
	fi; \
	db="tinylink_make_$$$$"; \
	$(PY) -c "import psycopg; c=psycopg.connect('$(PG_URL)/postgres', autocommit=True); c.execute('CREATE DATABASE $$db')"; \
	trap "$(PY) -c \"import psycopg; c=psycopg.connect('$(PG_URL)/postgres', autocommit=True); c.execute('DROP DATABASE IF EXISTS $$db WITH (FORCE)')\"" EXIT; \
	echo "=== test suite on PostgreSQL ($$db) ==="; \
	DATABASE_URL=$(PG_URL)/$$db $(VENV)/bin/pytest $(PYTEST_ARGS)

# Redirect throughput of the production entry point against the bare-WSGI
# ceiling, with exact click counts (docs/performance.md). Not part of `make
# test`: it takes minutes and its numbers are ratios, not pass/fail, except
# for the click counts. Override with BENCH_ARGS="--engine sqlite --sizes 1000".
bench: $(VENV)/.runtime .env static
	@command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk"; exit 1; }
	$(PY) bench/redirects.py $(BENCH_ARGS)

# README's pictures, redrawn from demo data in a throwaway database
# (docs/img/screenshots.py) with Debian's Chromium: apt-get install -y chromium.
screenshots: $(VENV)/.dev .env static
	$(PY) docs/img/screenshots.py

clean:
	rm -rf staticfiles .pytest_cache .ruff_cache
