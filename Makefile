# The two commands a new user needs: `make run` (the service with demo data on SQLite) and
# `make test` (the suite; SQLite by default, PostgreSQL when DATABASE_URL is set).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run test e2e install install-dev lint format clean

## help: list the targets (what `make` with no target prints)
help:
	@echo "Targets (make TARGET):"
	@sed -n 's/^## \([a-z0-9-]*\): \(.*\)/\1|\2/p' $(MAKEFILE_LIST) | awk -F'|' '{ printf "  %-13s %s\n", $$1, $$2 }'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

## install: the virtualenv with the runtime requirements
install: $(VENV)/.runtime
## install-dev: the virtualenv with the test and lint tools too
install-dev: $(VENV)/.dev

## run: migrate, collect the static files, seed the demo data and serve on http://127.0.0.1:8000
## (SQLite unless DATABASE_URL), with a webhook worker beside the server, stopped with it
run: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo_data
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver $(HOST):$(PORT)

## test: the whole suite; extra pytest arguments go in ARGS="..."
test: install-dev
	$(BIN)/pytest $(ARGS)

## e2e: only the end-to-end tests (nginx + gunicorn + PostgreSQL on loopback; needs nginx)
e2e: install-dev
	$(BIN)/pytest -m e2e $(ARGS)

## lint: ruff check and format check, as CI runs them
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## format: fix what ruff can and format the code
format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## clean: remove the virtualenv, the SQLite database and generated files
clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache test-artifacts
