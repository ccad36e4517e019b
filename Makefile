# The two entry points of the README: `make serve` (index the seeds, serve them, rebuild when they
# change) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# setuptools' default editable install (a meta path finder) always ends with a warning that a
# folder named like the package in the working directory may shadow it: here that folder is the
# package itself, so the warning says nothing and only that message is filtered out.
# (editable_mode=compat is no way out: it warns that the compat mode is deprecated instead.)
PIP_EDITABLE := PYTHONWARNINGS='ignore:Editable installation:UserWarning' $(BIN)/pip install -q -e

.PHONY: install install-test serve test lint browser

# The runtime, which is all `make serve` needs. torch is installed first and pinned: an unpinned
# torch resolves to a multi-GB CUDA build, while 2.13.0 is the CPU build this machine keeps on disk.
$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(PIP_EDITABLE) .
	touch $@

# The test extras on top (pytest, Playwright, Milvus, Ray, ...) for `make test` and `make lint`.
$(VENV)/.test: $(VENV)/.runtime pyproject.toml
	$(PIP_EDITABLE) '.[test]'
	touch $@

install: $(VENV)/.runtime

install-test: $(VENV)/.test

serve: install
	$(BIN)/xlsearch serve --watch

# Debian's Chromium for the Playwright tests (never a downloaded browser build), and Debian's
# Noto fonts, without which Armenian, Georgian and Chinese passages render as boxes.
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-core fonts-noto-cjk
browser:
	@dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q $(BROWSER_PACKAGES); }

lint: install-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy embed service

test: install-test browser
	$(BIN)/python -m pytest -q
