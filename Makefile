# The two commands that matter: `make demo` runs the product, `make test` runs every test.
# Both install what is missing first (Debian packages as root, Python packages into .venv).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench deps system-deps clean images soak

system-deps:
	@bash deploy/local/install_system_deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip >&2
	@$(BIN)/pip install -q -e '.[dev]' >&2
	@touch $(STAMP)

deps: system-deps $(STAMP)

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: deps
	$(BIN)/mypy

# Two processes, a test file each at a time (a file's module fixtures, such as the images, are
# made once): the suite waits on servers, browsers and subprocesses as much as it computes, and
# takes ~16 min in two where it took ~25 in one on a 2-core machine. PYTEST_WORKERS=0 runs it in one.
PYTEST_WORKERS ?= 2

test: deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

demo: deps
	$(BIN)/python -m deploy.demo

# Both images with podman or docker (deploy/images/); LOCAL_BASE=1 makes a Debian + Python base here
# instead of pulling python:3.11-slim, BASE_IMAGE=... names another.
images: deps
	$(BIN)/python -m deploy.images $(if $(filter 1,$(LOCAL_BASE)),--local-base) $(if $(BASE_IMAGE),--base-image $(BASE_IMAGE))

# The fault suite at length (tests/soak; one shortened round runs in `make test`): prints its accounting.
soak: deps
	$(BIN)/python -m tests.soak

bench: deps
	@$(BIN)/pip install -q -r benchmarks/requirements.txt >&2
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
