# Set-up and everyday commands. `make demo` then `make test` on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS := nutpie,jax,dask,notebooks,dev
DEMO_OUT ?= report
DEMO_ARGS ?=

.PHONY: demo test test-fast lint env clean bench

$(STAMP): pyproject.toml
	@PY312=$$(scripts/find-python312.sh) || exit 1; \
	echo "Using $$PY312"; \
	[ -x $(PY) ] || $$PY312 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ambidex-bayes run --example --out $(DEMO_OUT) $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m ruff check ambidex_bayes tests benchmarks
	$(PY) -m pytest -n 2 --durations=15 $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -n 2 -m "not slow and not fit" $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check ambidex_bayes tests benchmarks
	$(PY) -m ruff format --check ambidex_bayes tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/bench_fit.py

clean:
	rm -rf $(VENV) .ambidex_cache report .pytest_cache
