# podium: `make run` starts Airflow with the example DAGs on embedded defaults; `make test` runs the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.podium-installed
UV := $(shell command -v uv 2>/dev/null)

# Airflow configuration for `make run` and the tests (the integration harness overrides what it must).
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export PODIUM_PORT ?= 8080
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__PARALLELISM ?= 4
export AIRFLOW__CORE__EXECUTOR ?= LocalExecutor
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL ?= 10
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN ?= sqlite:///$(AIRFLOW_HOME)/airflow.db
export AIRFLOW__API__PORT := $(PODIUM_PORT)
# The UI and API listen on loopback only unless asked (AIRFLOW__API__HOST=0.0.0.0 make run).
export AIRFLOW__API__HOST ?= 127.0.0.1
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL := http://127.0.0.1:$(PODIUM_PORT)/execution/
export PATH := $(VENV)/bin:$(PATH)

.PHONY: help install run test test-fast test-unit test-integration lint format lock bench reset clean

help:
	@echo "make run    set up .venv and start Airflow with podium's DAGs (http://localhost:$(PODIUM_PORT))"
	@echo "make test   set up .venv and run the whole test suite (two workers)"
	@echo "make test-fast   pure logic and DAG integrity only (no services), under 3 minutes"
	@echo "make lint   ruff, mypy and the layer contracts (lint-imports)    make lock   re-pin requirements.lock"
	@echo "make bench  run the benchmarks    make reset  forget .airflow (DB, sandbox)    make clean  also .venv"

# (Re)install only when a requirements file changed. uv when available, else pip. uv compiles the
# bytecode at install (pip does by default): with PYTHONDONTWRITEBYTECODE set, as on CI machines,
# every Airflow process (CLI, scheduler, each task) would otherwise compile Airflow from source.
$(STAMP): requirements.txt requirements-dev.txt requirements.lock
	@test -x $(PY) || { if [ -n "$(UV)" ]; then $(UV) venv --python $(PYTHON) $(VENV); else $(PYTHON) -m venv $(VENV); fi; }
	@if [ -n "$(UV)" ]; then \
	  $(UV) pip install --compile-bytecode --python $(PY) -r requirements.txt -r requirements-dev.txt -c requirements.lock; \
	else \
	  $(PY) -m pip install --upgrade --quiet pip && \
	  $(PY) -m pip install -r requirements.txt -r requirements-dev.txt -c requirements.lock; \
	fi
	@touch $@

install: $(STAMP)

run: install
	$(PY) include/sandbox/run.py

# `make test`: the whole suite on two pytest-xdist workers (PYTEST_WORKERS=0: one process). Every
# test that uses the real-scheduler cluster goes to one worker (tests/conftest.py groups them), so
# one cluster serves them all while the other worker runs the rest.
# `make test-fast`: pure logic and DAG integrity, no services, no sandboxes, in one process.
PYTEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),-p no:xdist,-n $(PYTEST_WORKERS) --dist loadgroup)

test: install
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -p no:xdist tests/unit tests/dags/test_dag_integrity.py $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest $(XDIST) -m "not integration" $(PYTEST_ARGS)

test-integration: install
	$(PY) -m pytest $(XDIST) -m integration $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	PYTHONPATH=plugins $(VENV)/bin/lint-imports --no-cache --no-logo

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Pins every transitive dependency, for every supported Python, from PyPI as of today.
lock:
	@command -v uv >/dev/null || { echo "make lock needs uv: $(PYTHON) -m pip install uv"; exit 1; }
	uv pip compile --universal --python-version 3.11 --no-header \
	  requirements.txt requirements-dev.txt -o requirements.lock

bench: install
	$(PY) bench/parse_time.py
	$(PY) bench/kube_watch_streams.py
	$(PY) bench/rollout_latency.py
	$(PY) bench/release_parse.py
	$(PY) bench/etl_throughput.py
	$(PY) bench/terraform_overhead.py

# A clean slate for `make run`: the metadata DB, logs and the Kubernetes sandbox's objects go; .venv stays.
reset:
	rm -rf $(AIRFLOW_HOME) .run

clean:
	rm -rf $(VENV) $(AIRFLOW_HOME) .run
