# Two commands set up a fresh machine: `make plan` (the dev stack's offline plan) and
# `make test` (lint and every test). Both create .venv and install the pinned packages.
PYTHON ?= python3
# AIRFLOW_VERSION, AIRFLOW_PYTHON_VERSION, POSTGRES_CLIENT_MAJOR: the repository's one place.
include versions.env
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: plan test lint bench bench-backup bench-ship bench-log-cleanup bench-dag-parse image clean

$(STAMP): requirements.txt requirements-dev.txt dags/requirements.txt versions.env pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -r dags/requirements.txt \
		"apache-airflow==$(AIRFLOW_VERSION)"
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

plan: $(STAMP)
	$(BIN)/airflow-platform plan dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/shellcheck images/mwaa/startup.sh

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/plan.py

# Streamed backup vs pg_dump > /dev/null and vs dump-then-upload, on a generated >= 1 GB
# database (embedded PostgreSQL + moto server, both on loopback); SIZE_GB=2 for larger.
bench-backup: $(STAMP)
	$(BIN)/python bench/backup.py --size-gb $(or $(SIZE_GB),1)

# ship-dags vs `aws s3 sync --delete` on a fresh copy of a generated 1,000-file bundle with one
# file changed (moto server on loopback); FILES=5000 for a larger bundle.
bench-ship: $(STAMP)
	$(BIN)/python bench/ship.py --files $(or $(FILES),1000)

# clean-logs vs `find -mtime +N -delete && find -type d -empty -delete` on identical copies of a
# generated 200,000-file log tree; WORK_DIR=/dev/shm to measure without the disk.
bench-log-cleanup: $(STAMP)
	$(BIN)/python bench/log_cleanup.py $(if $(WORK_DIR),--work-dir $(WORK_DIR))

# Parse time of each DAG file against an empty DAG file, parsed as the DAG processor would.
bench-dag-parse: $(STAMP)
	$(BIN)/python bench/dag_parse.py --repeat $(or $(REPEAT),5)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# The eks image, with the versions of versions.env (needs a Docker engine; CI's deploy job).
IMAGE ?= airflow-platform:dev
image:
	docker build -f images/eks/Dockerfile -t $(IMAGE) \
		--build-arg AIRFLOW_VERSION=$(AIRFLOW_VERSION) \
		--build-arg AIRFLOW_PYTHON_VERSION=$(AIRFLOW_PYTHON_VERSION) \
		--build-arg POSTGRES_CLIENT_MAJOR=$(POSTGRES_CLIENT_MAJOR) .
