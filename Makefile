# Set-up and everyday commands. `make demo` then `make test` on a fresh machine.
# Python 3.12 (preferred) or 3.13, found by scripts/find-python.sh; PYTHON=/path picks the
# interpreter. PY_VERSION=3.13 (or `make test-313`) uses 3.13 in its own environment,
# .venv-3.13, beside the default .venv.
SHELL := /bin/bash
PY_VERSION ?=
VENV := $(if $(filter-out 3.12,$(PY_VERSION)),.venv-$(PY_VERSION),.venv)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS := nutpie,jax,dask,notebooks,dev
DEMO_OUT ?= report
DEMO_ARGS ?=

.PHONY: demo test test-313 test-fast lint env clean bench

$(STAMP): pyproject.toml
	@BASE=$$(PY_VERSION=$(PY_VERSION) scripts/find-python.sh) || exit 1; \
	echo "Using $$BASE"; \
	[ -x $(PY) ] || $$BASE -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ambidex-bayes run --example --out $(DEMO_OUT) $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m ruff check ambidex_bayes tests benchmarks
	$(PY) -m pytest -n 2 --durations=15 $(PYTEST_ARGS)

# the same suite on Python 3.13, in .venv-3.13
test-313:
	$(MAKE) test PY_VERSION=3.13

test-fast: $(STAMP)
	$(PY) -m pytest -n 2 -m "not slow and not fit" $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check ambidex_bayes tests benchmarks
	$(PY) -m ruff format --check ambidex_bayes tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/bench_fit.py

clean:
	rm -rf $(VENV) .ambidex_cache report .pytest_cache
