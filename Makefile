# tradegw: `make demo` and `make test` bootstrap a fresh clone by themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := $(sort $(wildcard plugins/*))
DURATION ?= 30

.PHONY: install test lint demo bench bench-plot clean

$(BIN)/.tradegw-installed: pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tradegw needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(foreach p,$(PLUGINS),-e $(p))
	touch $@

install: $(BIN)/.tradegw-installed

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tradegw_core $(wildcard plugins/*/src/tradegw_*)

# coverage starts before pytest so the pytest11 plugin in tradegw_core/testing is measured too.
test: lint
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -q
	$(BIN)/coverage report --fail-under=90

demo: install
	$(BIN)/tradegw demo --duration $(DURATION)

# The bench-only extra (cryptofeed, orjson, matplotlib: docs/decisions.md) on top of dev.
$(BIN)/.tradegw-bench: $(BIN)/.tradegw-installed
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

bench: install $(BIN)/.tradegw-bench
	$(BIN)/python -m tradegw_core.bench

bench-plot: install $(BIN)/.tradegw-bench
	$(BIN)/python -m tradegw_core.bench.plot --out docs/performance.png

clean:
	rm -rf $(VENV) .coverage .mypy_cache .ruff_cache
