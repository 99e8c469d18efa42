# Two commands: `make run` (the whole console on the embedded default) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PREDICTOR_PORT ?= 8001
# Where pip finds the CPU build of torch on machines that carry it.
export PIP_FIND_LINKS ?= $(wildcard /opt/wheels)

TEST_ENV := DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/15} \
	CONSOLE_EMBEDDED=1 FAST_PASSWORD_HASHER=1 CONSOLE_DATA_DIR=$(CURDIR)/var/test

.PHONY: run dev test lint typecheck frontend frontend-test chromium clean openapi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

frontend/node_modules/.package-lock.json: frontend/package.json frontend/package-lock.json frontend/tools/openapi-gen/package.json
	cd frontend && npm ci --no-audit --no-fund

# The build first checks that src/generated/openapi.d.ts is what docs/openapi.yaml generates, so
# the schema is one of its inputs: a server change the UI has not taken in fails here.
frontend/dist/manifest.json: frontend/node_modules/.package-lock.json docs/openapi.yaml frontend/tools/openapi-gen/gen.mjs $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig.json -type f 2>/dev/null)
	cd frontend && npm run build

frontend: frontend/dist/manifest.json

# The frontend's unit tests (Vitest): the chart data rules, which need no browser.
frontend-test: frontend/node_modules/.package-lock.json
	cd frontend && npm test

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The console with the frontend from Vite's dev server: edit frontend/src and the page reloads.
VITE_PORT ?= 5173
dev: $(VENV)/.installed frontend/node_modules/.package-lock.json
	cd frontend && VITE_PORT=$(VITE_PORT) npx vite & vite=$$!; \
	trap 'kill $$vite' EXIT INT TERM; \
	DEBUG=1 VITE_DEV_SERVER=http://127.0.0.1:$(VITE_PORT) $(MAKE) run

run: $(VENV)/.installed frontend
	mkdir -p var && chmod 700 var
	CONSOLE_EMBEDDED=1 $(PY) manage.py migrate --noinput
	CONSOLE_EMBEDDED=1 $(PY) manage.py bootstrap_user --credentials-file var/credentials.txt
	@test ! -f var/credentials.txt || echo "Sign in as: $$(head -1 var/credentials.txt) / $$(tail -1 var/credentials.txt)"
	CONSOLE_EMBEDDED=1 $(PY) manage.py runconsole --port $(PORT) --predictor-port $(PREDICTOR_PORT)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	CONSOLE_EMBEDDED=1 $(VENV)/bin/mypy console jobs models_registry automl_cli tests bench

test: $(VENV)/.installed frontend frontend-test chromium lint typecheck
	mkdir -p var
	CONSOLE_EMBEDDED=1 $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

# Regenerates the committed OpenAPI schema after an API change, and the frontend's types from it
# (tests/console/test_schema.py fails while either differs from what the code generates; so does
# `npm run build` for the types). Then fix what `cd frontend && npm run build` reports.
openapi: $(VENV)/.installed frontend/node_modules/.package-lock.json
	CONSOLE_EMBEDDED=1 $(PY) manage.py spectacular --file docs/openapi.yaml --validate --fail-on-warn
	cd frontend && npm run --silent gen:api

clean:
	rm -rf var/test test-artifacts
