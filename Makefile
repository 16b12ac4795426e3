# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv, install the CPU build of
# torch first (pinned: an unpinned torch pulls a multi-GB CUDA build), then this package in editable mode.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_PIN := torch==2.13.0

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_PIN)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

demo: setup
	$(PY) scripts/demo.py

test: setup
	$(PY) -m pytest tests

lint: setup
	$(VENV)/bin/ruff check src tests examples scripts benchmarks

clean:
	rm -rf $(VENV) outputs .pytest_cache
