# Two commands matter: `make demo` serves the demo dashboard, `make test` runs every test.
# Both create the virtual environment and install the project into it first.
# The first interpreter on PATH that really runs and is 3.11 or newer (pyenv shims may name
# versions that are not installed).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8866

.PHONY: demo demo-lab test test-fast lint bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "usage-widgets needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (usage-widgets)" >/dev/null
	$(BIN)/python -m usage_widgets.warm
	@touch $@

demo: $(STAMP)
	$(BIN)/usage-widgets serve --port $(PORT)

demo-lab: $(STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/usage.ipynb

test: $(STAMP)
	$(BIN)/ruff check usage_widgets tests benchmarks
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not browser"

# Figures at 1M and 10M requests against the targets (logs cached in benchmarks/.cache).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks.bench

lint: $(STAMP)
	$(BIN)/ruff check usage_widgets tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis test-artifacts
