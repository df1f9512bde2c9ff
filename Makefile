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

# Python dependencies come from uv.lock (scripts/install-python.sh: uv, bootstrapped with pip when missing). `make run`
# and `make worker` install the runtime only; the checks and benchmarks install the dev extra, which holds the
# test tools and the models extra (torch). Each stamp is older than pyproject.toml or uv.lock when they change.
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
MODELS_STAMP := $(VENV)/.installed-models
INSTALL_INPUTS := pyproject.toml uv.lock scripts/install-python.sh

.PHONY: run test lint typecheck pytest bench install install-dev install-models lock migrate services tools clean \
	frontend frontend-check e2e chromium screenshots

# Front end (frontend/): npm ci when node_modules is missing or older than the lockfile; a build when
# dist/index.html is missing or older than any source, index.html, config, package.json or the lockfile.
FRONTEND := frontend
NPM ?= npm
NODE_STAMP := $(FRONTEND)/node_modules/.flowyard-installed
FRONTEND_INPUTS := $(shell find $(FRONTEND)/src -type f 2>/dev/null) $(FRONTEND)/index.html \
	$(FRONTEND)/package.json $(FRONTEND)/package-lock.json $(wildcard $(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig.json)

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)
# torch, diffusers, transformers...: what diffusion nodes and ModelScope torch models need on a worker.
install-models: $(MODELS_STAMP)

$(RUNTIME_STAMP): $(INSTALL_INPUTS)
	@VENV=$(VENV) PYTHON=$(PYTHON) scripts/install-python.sh
	@touch $@

# The dev extra holds the runtime and the models extra, so it satisfies the other stamps too.
$(DEV_STAMP): $(INSTALL_INPUTS)
	@VENV=$(VENV) PYTHON=$(PYTHON) scripts/install-python.sh dev
	@touch $@ $(RUNTIME_STAMP) $(MODELS_STAMP)

$(MODELS_STAMP): $(INSTALL_INPUTS)
	@VENV=$(VENV) PYTHON=$(PYTHON) scripts/install-python.sh models
	@touch $@ $(RUNTIME_STAMP)

# After changing dependencies in pyproject.toml: bring uv.lock up to date (commit it; CI refuses a stale one).
lock:
	@test -x $(VENV)/bin/uv || $(MAKE) install
	$(VENV)/bin/uv lock

migrate: install
	@echo "==> applying database migrations..."
	@$(PY) manage.py migrate --noinput

$(NODE_STAMP): $(FRONTEND)/package-lock.json $(FRONTEND)/package.json
	@echo "==> installing front-end dependencies (npm ci)..."
	cd $(FRONTEND) && $(NPM) ci --no-audit --no-fund
	@touch $(NODE_STAMP)

$(FRONTEND)/dist/index.html: $(NODE_STAMP) $(FRONTEND_INPUTS)
	@echo "==> building the editor (vite)..."
	cd $(FRONTEND) && $(NPM) run build

frontend: $(FRONTEND)/dist/index.html

frontend-check: $(NODE_STAMP)
	cd $(FRONTEND) && $(NPM) run lint
	cd $(FRONTEND) && $(NPM) run format:check
	cd $(FRONTEND) && $(NPM) run typecheck
	cd $(FRONTEND) && $(NPM) test

# bubblewrap, the sandbox of uploaded node packs (scripts/ensure-tools.sh): installed when missing.
tools:
	@scripts/ensure-tools.sh

run: install tools migrate frontend
	@echo "==> serving http://$(HOST):$(PORT) (Ctrl-C stops)"
	$(VENV)/bin/uvicorn --host $(HOST) --port $(PORT) --lifespan off backend.asgi:application

services:
	@scripts/ensure-services.sh

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install-dev
	$(VENV)/bin/mypy

pytest: install-dev services tools
	DATABASE_URL=$(TEST_DATABASE_URL) FLOWYARD_TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) FLOWYARD_TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(PY) -m pytest $(PYTEST_ARGS)

# Real-browser tests (frontend/e2e): Chromium from apt when missing (never `playwright install`); each run starts
# its own daphne on a fresh SQLite database in a temporary directory. With CI=true a missing browser fails.
chromium:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || \
		{ echo "==> installing chromium (apt)..."; apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }; }

e2e: install-dev chromium frontend
	$(PY) -m pytest frontend/e2e -q -p no:cacheprovider $(E2E_ARGS)

# Screenshots of the main pages into docs/screenshots/ (not part of make test).
screenshots: install-dev chromium frontend
	$(PY) frontend/e2e/screenshots.py

test: lint typecheck frontend-check pytest e2e

bench: install-dev chromium frontend
	$(PY) -m benchmarks.engine
	$(PY) -m benchmarks.image_ops
	$(PY) -m benchmarks.editor
	$(PY) -m benchmarks.packhost
	$(PY) -m benchmarks.comfy
	$(PY) -m benchmarks.diffusion
	@scripts/ensure-services.sh
	$(PY) -m benchmarks.cluster
	$(PY) -m benchmarks.api
	$(PY) -m benchmarks.request_cpu
	$(PY) -m benchmarks.web_edge
	$(PY) -m benchmarks.faults
	$(PY) -m benchmarks.soak --seconds 60

clean:
	rm -rf $(VENV) var frontend/dist frontend/node_modules

# A Celery worker for FLOWYARD_DISPATCHER=celery (needs REDIS_URL and DATABASE_URL): QUEUES=flowyard.gpu on a
# GPU machine, CONCURRENCY runs at once.
QUEUES ?= flowyard.cpu
CONCURRENCY ?= 1
.PHONY: worker
worker: install tools
	$(PY) -m celery -A backend worker -Q $(QUEUES) -c $(CONCURRENCY) --loglevel=INFO

# A local multi-process cluster (infra/local/cluster.sh): web + two Celery workers + beat on Postgres
# (database flowyard_cluster), Redis (database 5) and a moto S3 server; PIDs and logs in var/cluster/.
.PHONY: cluster cluster-down cluster-status cluster-test
cluster:
	PORT=$(PORT) infra/local/cluster.sh up

cluster-down:
	infra/local/cluster.sh down

cluster-status:
	PORT=$(PORT) infra/local/cluster.sh status

# The smoke test through a running cluster (or any deployment: FLOWYARD_CLUSTER_URL=https://...).
FLOWYARD_CLUSTER_URL ?= http://$(HOST):$(PORT)
cluster-test: install-dev
	FLOWYARD_CLUSTER_URL=$(FLOWYARD_CLUSTER_URL) $(PY) -m pytest -p no:cacheprovider -v infra/tests/cluster_smoke.py
