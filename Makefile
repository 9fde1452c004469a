# make run: a working archive with the demo data.  make test: lint and the whole test suite.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# The first python3 that is 3.11 or newer.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
STAMP := $(VENV)/.installed
# The main job: serve the demo archive (REST API, OPTIMADE) on http://127.0.0.1:8000.
RUN := $(VENV)/bin/bigmax serve --demo
# The GUI's JavaScript libraries (3Dmol.js, Plotly), from npm into the package; see docs/gui.md.
WEB_VENDOR := src/bigmax/web/static/vendor
WEB_STAMP := $(WEB_VENDOR)/.installed
# pytest options. Two workers measured ~10% faster than one on 2 cores (each test has its own
# database); make test PYTEST_ARGS="-x -k doctor" runs serially.
PYTEST_ARGS ?= -n 2

.PHONY: help venv web browser run test lint schema clean

help:
	@echo "make run     ingest and publish the demo data, then serve it on http://127.0.0.1:8000"
	@echo "make test    ruff and the whole test suite, on SQLite and a throwaway PostgreSQL"
	@echo "make lint    ruff only"
	@echo "make schema  regenerate docs/schema/*.json from bigmax.schema"
	@echo "make venv    create .venv (re-installs when pyproject.toml changes)"
	@echo "make web     install the GUI's JavaScript libraries from npm into the package"
	@echo "make clean   remove .venv, the test database and caches"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "BigMax needs Python 3.11 or newer (python3.11 on PATH)"; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

web: $(WEB_STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json Makefile
	@command -v npm >/dev/null || { echo "the web GUI needs npm (Node.js 18 or newer) to install"; exit 1; }
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	mkdir -p $(WEB_VENDOR)/3dmol $(WEB_VENDOR)/plotly
	cp web/node_modules/3dmol/build/3Dmol-min.js web/node_modules/3dmol/build/3Dmol-min.js.LICENSE.txt \
		web/node_modules/3dmol/LICENSE $(WEB_VENDOR)/3dmol/
	cp web/node_modules/plotly.js-basic-dist-min/plotly-basic.min.js \
		web/node_modules/plotly.js-basic-dist-min/LICENSE $(WEB_VENDOR)/plotly/
	# Plotly's default topojsonURL (geo maps, unused) points at its CDN: point it at our own
	# static folder so the shipped bundle names no outside host.
	sed -i 's|https://cdn.plot.ly/un/|/static/vendor/plotly/topojson/|g' $(WEB_VENDOR)/plotly/plotly-basic.min.js
	touch $@

# The GUI tests drive Debian's chromium (headless); install it where it is missing (as root).
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium; }

run: venv web
	$(RUN)

test: venv web browser
	PYTEST_ARGS="$(PYTEST_ARGS)" scripts/test.sh

lint: venv
	$(VENV)/bin/ruff check src tests $(wildcard benchmarks)

schema: venv
	$(VENV)/bin/python scripts/export_schema.py

clean:
	scripts/postgres.sh remove
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis web/node_modules
	find $(WEB_VENDOR) -mindepth 1 ! -name .gitignore -delete
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
