# Flowyard: `make run` serves the product on the embedded default, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Tests run on real services: Postgres (trust auth on 127.0.0.1) and Redis.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/flowyard
TEST_REDIS_URL ?= redis://127.0.0.1:6379/9

STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench install migrate services clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip 2>/dev/null || true
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

run: install migrate
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) backend.asgi:application

services:
	@scripts/ensure-services.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install services
	DATABASE_URL=$(TEST_DATABASE_URL) FLOWYARD_TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) FLOWYARD_TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	$(PY) -m benchmarks.engine

clean:
	rm -rf $(VENV) var frontend/dist frontend/node_modules
