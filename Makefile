# `make plan` (the dev stack's offline plan) and `make test` (lint and every test) set up a fresh
# machine. Each installs what it needs into .venv: the plan only requirements.txt and this
# package; the tests and the benchmarks add the test tools, the DAGs' providers and the pinned
# Airflow. `make test` also builds dbt's own .venv-dbt (dbt/requirements.txt). `make help` lists
# the targets.
PYTHON ?= python3
# AIRFLOW_VERSION, AIRFLOW_PYTHON_VERSION, POSTGRES_CLIENT_MAJOR: the repository's one place.
include versions.env
VENV := .venv
BIN := $(VENV)/bin
# One stamp per set of packages: a stamp is newer than the files it was installed from.
PLAN_STAMP := $(VENV)/.installed-plan
TEST_STAMP := $(VENV)/.installed-test
# dbt's own virtualenv, apart from Airflow's constraints: dbt/requirements.txt's pins (what the
# MWAA startup script and the eks image install); the dbt tests run its `dbt`.
DBT_VENV := .venv-dbt
DBT_STAMP := $(DBT_VENV)/.installed-dbt
# pyproject.toml's requires-python; PYTHON_OK checks the same.
MIN_PYTHON := 3.11
# Evaluated only when .venv is about to be created (`=`, not `:=`).
PYTHON_FOUND = $(shell $(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)
PYTHON_OK = $(shell $(PYTHON) -c 'import sys; print("ok" if sys.version_info >= (3, 11) else "")' 2>/dev/null)

.DEFAULT_GOAL := help
.PHONY: help plan test lint lint-workflows bench bench-backup bench-ship bench-log-cleanup bench-dag-parse bench-dev-up image clean dev

help: ## List the targets, one line each
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-18s %s\n", $$1, $$2}' \
		$(firstword $(MAKEFILE_LIST))

$(BIN)/python:
	$(if $(PYTHON_FOUND),,$(error $(PYTHON) not found: pick a Python $(MIN_PYTHON) or newer, e.g. make PYTHON=python3.12 $(or $(MAKECMDGOALS),plan)))
	$(if $(PYTHON_OK),,$(error $(PYTHON) is Python $(PYTHON_FOUND); this project needs $(MIN_PYTHON) or newer: pick another, e.g. make PYTHON=python3.12 $(or $(MAKECMDGOALS),plan)))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# What the offline plan (and `pulumi up`, whose Pulumi.yaml points at .venv) needs.
$(PLAN_STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# requirements-dev.txt repeats requirements.txt (-r), so this resolve keeps the plan's pins.
$(TEST_STAMP): $(PLAN_STAMP) requirements-dev.txt dags/requirements.txt versions.env
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -r dags/requirements.txt \
		"apache-airflow==$(AIRFLOW_VERSION)"
	touch $@

# Created with the same checked $(PYTHON) as .venv (hence the order-only .venv prerequisite).
$(DBT_VENV)/bin/python: | $(BIN)/python
	$(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/python -m pip install --quiet --upgrade pip

$(DBT_STAMP): dbt/requirements.txt | $(DBT_VENV)/bin/python
	$(DBT_VENV)/bin/python -m pip install --quiet -r dbt/requirements.txt
	touch $@

plan: $(PLAN_STAMP) ## The dev stack's offline plan (installs only what the plan needs)
	$(BIN)/airflow-platform plan dev

# The GitHub Actions workflows; WORKFLOWS=path/to/file.yml checks others.
WORKFLOWS ?= $(wildcard .github/workflows/*.yml)

lint-workflows: $(TEST_STAMP) ## actionlint over .github/workflows, shellcheck on their scripts
	$(BIN)/actionlint -shellcheck=$(BIN)/shellcheck -pyflakes= $(WORKFLOWS)

lint: $(TEST_STAMP) lint-workflows ## ruff (lint and format check), shellcheck, hadolint, actionlint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/shellcheck images/mwaa/startup.sh
	$(BIN)/hadolint images/eks/Dockerfile

# The dbt DAG renders from the dbt manifest, which is built, not committed.
test: lint $(DBT_STAMP) ## Lint, then every test, in the pinned Airflow (what .ci/run runs)
	$(BIN)/airflow-platform dbt-manifest
	$(BIN)/pytest

bench: $(TEST_STAMP) ## Plan benchmark (bench/plan.py), as a ratio to its baseline
	$(BIN)/python bench/plan.py

# Streamed backup vs pg_dump > /dev/null and vs dump-then-upload, on a generated >= 1 GB
# database (embedded PostgreSQL + moto server, both on loopback).
bench-backup: $(TEST_STAMP) ## Backup benchmark on a generated database; SIZE_GB=2 for larger
	$(BIN)/python bench/backup.py --size-gb $(or $(SIZE_GB),1)

# ship-dags vs `aws s3 sync --delete` on a fresh copy of a generated bundle with one file changed
# (moto server on loopback).
bench-ship: $(TEST_STAMP) ## ship-dags vs aws s3 sync on 1,000 files; FILES=5000 for more
	$(BIN)/python bench/ship.py --files $(or $(FILES),1000)

# clean-logs vs `find -mtime +N -delete && find -type d -empty -delete` on identical copies of a
# generated 200,000-file log tree.
bench-log-cleanup: $(TEST_STAMP) ## clean-logs vs find on 200,000 files; WORK_DIR=/dev/shm for tmpfs
	$(BIN)/python bench/log_cleanup.py $(if $(WORK_DIR),--work-dir $(WORK_DIR))

# Parse time of each DAG file against an empty DAG file, parsed as the DAG processor would.
bench-dag-parse: $(TEST_STAMP) ## Parse time of each DAG file; REPEAT=10 for more rounds
	$(BIN)/python bench/dag_parse.py --repeat $(or $(REPEAT),5)

# `dev up` to every component healthy against a bare `airflow standalone`, interleaved rounds.
bench-dev-up: $(TEST_STAMP) $(DBT_STAMP) ## dev up vs airflow standalone; REPEAT=5 for more rounds
	$(BIN)/python bench/dev_up.py --repeat $(or $(REPEAT),3)

# A local Airflow for DAG authors (airflow-platform dev up): the pinned Airflow the test
# install puts into .venv, the repository's dags/, PostgreSQL, moto and a Slack sink, all
# under .dev/; in the foreground until Ctrl-C.
dev: $(TEST_STAMP) ## A local Airflow of the pinned version on dags/ (Ctrl-C stops it)
	$(BIN)/airflow-platform dev up

clean: ## Remove .venv, .venv-dbt and the tool caches
	rm -rf $(VENV) $(DBT_VENV) .pytest_cache .ruff_cache

# The eks image, with the versions of versions.env (needs a Docker engine; CI's deploy job).
IMAGE ?= airflow-platform:dev
image: ## The eks image with versions.env's versions (needs Docker); IMAGE=name:tag
	docker build -f images/eks/Dockerfile -t $(IMAGE) \
		--build-arg AIRFLOW_VERSION=$(AIRFLOW_VERSION) \
		--build-arg AIRFLOW_PYTHON_VERSION=$(AIRFLOW_PYTHON_VERSION) \
		--build-arg POSTGRES_CLIENT_MAJOR=$(POSTGRES_CLIENT_MAJOR) .
