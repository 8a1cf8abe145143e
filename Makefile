# Set-up and everyday commands. `make demo` then `make test` on a fresh machine.
# Python 3.12 (preferred) or 3.13, found by scripts/find-python.sh; PYTHON=/path picks the
# interpreter. PY_VERSION=3.13 (or `make test-313`) uses 3.13 in its own environment,
# .venv-3.13, beside the default .venv.
SHELL := /bin/bash
PY_VERSION ?=
VENV := $(if $(filter-out 3.12,$(PY_VERSION)),.venv-$(PY_VERSION),.venv)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS := nutpie,jax,dask,notebooks,docs,dev
# make docs DOCS_FAST=0: the notebooks run with their full settings (hours: notebook 05)
DOCS_FAST ?= 1
DEMO_OUT ?= report
DEMO_ARGS ?=

.PHONY: demo test test-313 test-fast lint env clean bench docs

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

# The HTML site in docs/_build/html: the API reference, the model's maths and the executed
# notebooks (cached in docs/_build: a later build runs only a changed notebook). Every
# warning is an error. An environment made before the docs extra existed gets it here.
docs: $(STAMP)
	@$(PY) -c "import sphinx, myst_nb, furo, jupytext" 2>/dev/null || \
		$(PY) -m pip install --quiet -e ".[docs]"
	AMBIDEX_FAST=$(DOCS_FAST) $(PY) -m sphinx -b html -W --keep-going docs docs/_build/html
	@echo "Open docs/_build/html/index.html"

bench: $(STAMP)
	$(PY) benchmarks/bench_fit.py

clean:
	rm -rf $(VENV) .ambidex_cache report .pytest_cache
