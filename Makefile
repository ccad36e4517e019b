# The two entry points of the README: `make serve` (index the seeds, serve them, rebuild when they
# change) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install serve test lint browser

# torch is installed first and pinned: an unpinned torch resolves to a multi-GB CUDA build, while
# 2.13.0 is the CPU build this machine keeps on disk.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

serve: install
	$(BIN)/xlsearch serve --watch

# Debian's Chromium for the Playwright tests (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium chromium-driver; }

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy embed service

test: install browser
	$(BIN)/python -m pytest -q
