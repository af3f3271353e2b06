# Offering Keycloak Groups — developer entry points. Everything a fresh machine needs is installed here.
SHELL := /bin/bash
# The interpreter: PYTHON if set, else the first Python >= 3.11 that scripts/find-python finds.
PYTHON ?= $(shell scripts/find-python 2>/dev/null)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := webapp

.PHONY: install browser keycloak keycloak-stop db demo run test test-postgres test-fast test-keycloak-matrix test-jobs-redis test-newest-python lint format clean bench load soak

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { scripts/find-python >/dev/null; exit 1; }
	@command -v $(PYTHON) >/dev/null || { echo "PYTHON=$(PYTHON) was not found"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres,deploy]'
	@touch $(STAMP)

## install: create .venv and install the app with its dev tools (fast when nothing changed)
install: $(STAMP)

## browser: Debian's Chromium for the Playwright journeys (playwright install cannot download here)
browser:
	@scripts/install-browser

## keycloak: start the local Keycloak 26 (downloaded once from the Maven registry)
keycloak:
	@scripts/keycloak-dev start

keycloak-stop:
	@scripts/keycloak-dev stop

## db: apply migrations to the configured database (SQLite under instance/ by default)
db: install
	$(BIN)/flask db upgrade

## run: SQLite + seeded admin and manager + demo offering (with drift) on a real local Keycloak, a job worker, the UI
run: install db
	@export OKG_DEMO_APP_URL=http://$(HOST):$(PORT) && \
	  eval "$$(scripts/keycloak-dev start)" && \
	  export KEYCLOAK_URL KEYCLOAK_ADMIN KEYCLOAK_ADMIN_PASSWORD && \
	  data=$$($(BIN)/python scripts/seed_demo.py) && \
	  $(BIN)/flask load-data "$$data" && \
	  $(BIN)/python scripts/seed_demo.py drift && \
	  eval "$$($(BIN)/python scripts/seed_demo.py sign-in)" && \
	  export OKG_OIDC_ISSUER OKG_OIDC_CLIENT_ID OKG_OIDC_CLIENT_SECRET && \
	  echo "" && \
	  echo "  Offering Keycloak Groups is at http://$(HOST):$(PORT)/" && \
	  echo "  Log in as admin / $${OKG_DEMO_PASSWORD:-demo-admin} (staff) or manager / $${OKG_DEMO_MANAGER_PASSWORD:-demo-manager} (manages HPC Cluster)" && \
	  echo "  Or Sign in with Keycloak as mia / $${OKG_DEMO_KEYCLOAK_PASSWORD:-demo-keycloak} (linked to manager by her verified email)" && \
	  echo "  Keycloak admin console: $$KEYCLOAK_URL/admin/ ($$KEYCLOAK_ADMIN / $$KEYCLOAK_ADMIN_PASSWORD), realm okg-demo" && \
	  echo "  A job worker runs beside the web server (the embedded SQLite queue in instance/jobs.sqlite)." && \
	  echo "" && \
	  { $(BIN)/flask worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; } && \
	  $(BIN)/flask run --host $(HOST) --port $(PORT)

## test: install, lint, and run the whole suite (unit, API, contract on fake + real Keycloak, browser)
test: install browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

## test-postgres: the whole suite on PostgreSQL (Debian's server, private cluster on loopback via scripts/postgres-dev)
test-postgres: install browser
	@pg_env="$$(scripts/postgres-dev start)" && eval "$$pg_env" && \
	  export OKG_TEST_DATABASE_URI && \
	  $(BIN)/python -m pytest

## test-keycloak-matrix: the gateway contract suite and the real-Keycloak integration tests on 22.0.5, 24.0.5 and 26.7.3
KEYCLOAK_MATRIX ?= 22.0.5 24.0.5 26.7.3
## test-jobs-redis: the job tests with the queue on Redis (scripts/redis-dev), worker processes included
test-jobs-redis: install
	@redis_env="$$(scripts/redis-dev start)" && OKG_TEST_JOBS_URL="$${redis_env#OKG_JOBS_URL=}" && \
	  export OKG_TEST_JOBS_URL && \
	  $(BIN)/python -m pytest tests/integration/test_jobs_on_a_worker.py tests/ui/test_job_pages.py tests/unit/test_cli.py

test-keycloak-matrix: install
	@for version in $(KEYCLOAK_MATRIX); do \
	  echo "== Keycloak $$version"; \
	  KEYCLOAK_VERSION=$$version $(BIN)/python -m pytest -m "keycloak and not tls" tests/contract tests/integration \
	    || exit 1; \
	done

## test-newest-python: the suite that needs no browser on the newest Python >= 3.12, in a virtualenv of its own
test-newest-python:
	@newest="$$(scripts/find-python --min 3.12)" && echo "test-newest-python: $$newest ($$($$newest --version))" && \
	  $(MAKE) --no-print-directory VENV=.venv-newest PYTHON="$$newest" install && \
	  .venv-newest/bin/python -m pytest -m "not e2e"

## test-fast: everything that needs no real Keycloak or browser
test-fast: install
	$(BIN)/python -m pytest -m "not keycloak and not e2e"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .venv-newest *.egg-info .pytest_cache .ruff_cache

## bench: seed a real Keycloak realm (cached) and SQLite, run the benchmarks, print the table, write benchmarks/results.json
bench: install browser
	@kc_env="$$(scripts/keycloak-dev start)" && eval "$$kc_env" && \
	  export KEYCLOAK_URL KEYCLOAK_ADMIN KEYCLOAK_ADMIN_PASSWORD && \
	  $(BIN)/python -m benchmarks.run $(BENCH_ARGS)

## load: 20 concurrent API clients for 60 s against gunicorn on PostgreSQL with a real Keycloak (not part of CI)
load: install
	$(BIN)/python scripts/load_test.py $(LOAD_ARGS)

## soak: two web instances + two workers on PostgreSQL, Redis and Keycloak raced for 90 s, one worker SIGKILLed (not part of CI)
soak: install
	$(BIN)/python scripts/soak.py $(SOAK_ARGS)
