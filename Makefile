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
# pytest-xdist workers for the test targets (0: one process); tests that share a server or a realm declare an
# xdist_group and stay on one worker. PYTEST_ARGS adds options (.ci/run: --durations=30).
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)
# Start the Keycloak(s) in the background, run the rest of the recipe with KEYCLOAK_URL set, stop what was started.
KEYCLOAK_ENV = kc_env="$$(scripts/test-keycloak env)" && eval "$$kc_env"

.PHONY: test-keycloak-begin install browser keycloak keycloak-stop db demo run test test-postgres test-fast test-keycloak-matrix test-jobs-redis test-newest-python test-keycloak-begin-tls pytest-newest coverage lint format clean bench bench-scale load soak

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
	  eval "$$(scripts/mail-dev start)" && export OKG_MAIL_URL && \
	  data=$$($(BIN)/python scripts/seed_demo.py) && \
	  $(BIN)/flask load-data "$$data" && \
	  $(BIN)/python scripts/seed_demo.py drift && \
	  eval "$$($(BIN)/python scripts/seed_demo.py sign-in)" && \
	  export OKG_OIDC_ISSUER OKG_OIDC_CLIENT_ID OKG_OIDC_CLIENT_SECRET && \
	  echo "" && \
	  echo "  Offering Keycloak Groups is at http://$(HOST):$(PORT)/" && \
	  echo "  Log in as admin / $${OKG_DEMO_PASSWORD:-demo-admin} (staff) or manager / $${OKG_DEMO_MANAGER_PASSWORD:-demo-manager} (manages HPC Cluster)" && \
	  echo "  or pi / $${OKG_DEMO_PI_PASSWORD:-demo-pi} (a project's PI: manages the members of hpc-users only, under My groups)" && \
	  echo "  Or Sign in with Keycloak as mia / $${OKG_DEMO_KEYCLOAK_PASSWORD:-demo-keycloak} (linked to manager by her verified email)" && \
	  echo "  Keycloak admin console: $$KEYCLOAK_URL/admin/ ($$KEYCLOAK_ADMIN / $$KEYCLOAK_ADMIN_PASSWORD), realm okg-demo" && \
	  echo "  A job worker runs beside the web server (the embedded SQLite queue in instance/jobs.sqlite)." && \
	  echo "  Mail (expiry reminders) goes to a local SMTP sink ($$OKG_MAIL_URL): read it in instance/mail/*.eml" && \
	  echo "" && \
	  { $(BIN)/flask worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; } && \
	  $(BIN)/flask run --host $(HOST) --port $(PORT)

## test: install, lint, and run the whole suite (unit, API, contract on fake + real Keycloak, browser)
test: test-keycloak-begin-tls install browser
	@status=0; \
	  $(BIN)/ruff check . && $(BIN)/mypy && $(BIN)/lint-imports --no-cache && $(KEYCLOAK_ENV) && $(PYTEST) || status=$$?; \
	  scripts/test-keycloak end; exit $$status

## coverage: the suite of make test (without lint) measuring webapp/'s lines and branches, the `flask worker`
## processes the tests start included (.coveragerc); prints the files not fully covered
## and the total, writes .coverage and coverage.json (compare two with scripts/coverage-compare)
coverage: test-keycloak-begin-tls install browser
	@status=0; rm -f .coverage .coverage.* coverage.json; \
	  { $(KEYCLOAK_ENV) && $(PYTEST) --cov --cov-report=; } || status=$$?; \
	  scripts/test-keycloak end; \
	  if ls .coverage.* >/dev/null 2>&1; then $(BIN)/coverage combine --append --quiet || status=$$?; fi; \
	  $(BIN)/coverage json --quiet && $(BIN)/coverage report --skip-covered && \
	  echo "coverage: $$($(BIN)/coverage report --format=total) % of webapp/ (lines and branches); coverage.json written" \
	  || status=$$?; exit $$status

# Keycloak starts (and on a new machine downloads and builds) while the virtualenv installs and lint runs.
test-keycloak-begin:
	@scripts/test-keycloak begin

test-keycloak-begin-tls:
	@scripts/test-keycloak begin --tls

## test-postgres: on PostgreSQL (scripts/postgres-dev), the tests whose outcome the database can change (marker db);
## OKG_TEST_DATABASE_URI, if set, names the database instead of the server's okg_test
test-postgres: test-keycloak-begin install
	@status=0; \
	  pg_env="$$(scripts/postgres-dev start)" && { [ -n "$${OKG_TEST_DATABASE_URI:-}" ] || eval "$$pg_env"; } && \
	  export OKG_TEST_DATABASE_URI && \
	  $(KEYCLOAK_ENV) && $(PYTEST) -m db || status=$$?; \
	  scripts/test-keycloak end; exit $$status

## test-keycloak-matrix: the real-Keycloak tests of tests/contract and tests/integration on each version (not the
## worker tests: what they ask Keycloak is in the contract tests); .ci/run skips 26.7.3, which make test covers
KEYCLOAK_MATRIX ?= 22.0.5 24.0.5 26.7.3
KEYCLOAK_MATRIX_TESTS = -m "keycloak and not tls and not e2e and not jobs" tests/contract tests/integration
test-keycloak-matrix: install
	@for version in $(KEYCLOAK_MATRIX); do \
	  echo "== Keycloak $$version"; \
	  export KEYCLOAK_VERSION=$$version; status=0; \
	  unset KEYCLOAK_URL; scripts/test-keycloak begin && \
	  $(KEYCLOAK_ENV) && $(PYTEST) $(KEYCLOAK_MATRIX_TESTS) || status=$$?; \
	  scripts/test-keycloak end; [ $$status -eq 0 ] || exit $$status; \
	done

## test-jobs-redis: with the queue on Redis (scripts/redis-dev), the tests whose outcome the queue can change (marker jobs);
## OKG_TEST_JOBS_URL, if set, names the Redis instead
test-jobs-redis: test-keycloak-begin install
	@status=0; \
	  redis_env="$$(scripts/redis-dev start)" && OKG_TEST_JOBS_URL="$${OKG_TEST_JOBS_URL:-$${redis_env#OKG_JOBS_URL=}}" && \
	  export OKG_TEST_JOBS_URL && \
	  $(KEYCLOAK_ENV) && $(PYTEST) -m jobs || status=$$?; \
	  scripts/test-keycloak end; exit $$status

## test-newest-python: on the newest Python >= 3.12 (.venv-newest), the tests whose outcome it can change (marker python)
test-newest-python: test-keycloak-begin
	@status=0; \
	  { newest="$$(scripts/find-python --min 3.12)" && echo "test-newest-python: $$newest ($$($$newest --version))" && \
	    $(MAKE) --no-print-directory VENV=.venv-newest PYTHON="$$newest" install && \
	    $(KEYCLOAK_ENV) && $(MAKE) --no-print-directory VENV=.venv-newest pytest-newest; } || status=$$?; \
	  scripts/test-keycloak end; exit $$status

pytest-newest:
	@$(PYTEST) -m "python and not e2e"

## test-fast: everything that needs no real Keycloak or browser
test-fast: install
	$(PYTEST) -m "not keycloak and not e2e"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

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

## bench-scale: the opt-in scenarios that take many minutes each (expiring 10,000 memberships), merged into benchmarks/results.json
bench-scale: install
	@$(MAKE) --no-print-directory bench BENCH_ARGS="--only expiry $(BENCH_ARGS)"

## load: 20 concurrent API clients for 60 s against gunicorn on PostgreSQL with a real Keycloak (not part of CI)
load: install
	$(BIN)/python scripts/load_test.py $(LOAD_ARGS)

## soak: two web instances + two workers on PostgreSQL, Redis and Keycloak raced for 90 s, one worker SIGKILLed (not part of CI)
soak: install
	$(BIN)/python scripts/soak.py $(SOAK_ARGS)
