# The README's quick start: `make run` (the shipped competition) and `make test` (the test suite).
# Each creates the virtual environment .venv and installs the project into it when needed: the stamp
# file below is remade only when pyproject.toml or constraints.txt change (or after a failed install),
# so a second call starts its job at once. `make test ARGS="-q -k tune"` passes arguments to pytest.
# `make test` runs the default suite (unit and component tests, a few minutes); `make test-all` adds the
# end-to-end tests marked slow (what CI runs).

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: run test test-all

run: $(STAMP)
	$(VENV)/bin/python -m pipeline run $(ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not slow" $(ARGS)

test-all: $(STAMP)
	$(VENV)/bin/python -m pytest $(ARGS)

# constraints.txt pins the CPU build of torch (a plain `torch` resolves to a multi-GB CUDA build)
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -e ".[dev]" -c constraints.txt
	touch $@
