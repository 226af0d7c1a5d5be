# `make help` lists the targets. Everything runs from a local virtualenv in .venv.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help serve test lint bench reliability image container-test clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)  ## start the appliance on its embedded defaults: https://localhost:8443
	$(BIN)/jetdr-msa serve

lint: $(STAMP)  ## ruff, mypy --strict and the import contract (the layers)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Two workers: the tests that start appliance processes run one at a time on one of them
# (tests/conftest.py groups them), the in-process tests on the other.
PARALLEL = -n 2 --dist loadgroup

test: lint  ## lint, then the whole suite on SQLite and, on PostgreSQL, the tests that reach the database
	JETDR_TEST_DB=sqlite $(BIN)/pytest $(PARALLEL)
	JETDR_TEST_DB=postgresql JETDR_TEST_ONLY_DATABASE=1 $(BIN)/pytest $(PARALLEL)

IMAGE ?= localhost/jetdr-msa:test
VCSIM_IMAGE ?= localhost/jetdr-vcsim:test

image:  ## build the appliance and vcsim images with buildah (no Docker engine or registry needed)
	deploy/build-image $(IMAGE) $(VCSIM_IMAGE)

container-test: $(STAMP) image  ## the end-to-end suite against appliances running from the image
	JETDR_IMAGE=$(IMAGE) JETDR_VCSIM_IMAGE=$(VCSIM_IMAGE) JETDR_TEST_DB=postgresql \
	  $(BIN)/pytest -m container tests/container

reliability: $(STAMP)  ## the reliability suite at full length, on SQLite then PostgreSQL
	JETDR_FUZZ_EXAMPLES=50 JETDR_SOAK_SECONDS=300 JETDR_TEST_DB=sqlite $(BIN)/pytest -m reliability
	JETDR_FUZZ_EXAMPLES=50 JETDR_SOAK_SECONDS=300 JETDR_TEST_DB=postgresql $(BIN)/pytest -m reliability

bench: $(STAMP)  ## every DESIGN.md target in one table, beside its baselines (about 6 minutes)
	$(BIN)/python -m benchmarks

clean:  ## remove the virtualenv and local data
	rm -rf $(VENV) data
