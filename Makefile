# The two commands a newcomer needs: `make demo` and `make test`. Everything installs into .venv.
# The interpreter .venv is built on: the distribution's Python when it is 3.11 or newer and has
# venv (Debian builds it with profile-guided optimisation and LTO: on this project's PDFs, SQL and
# pages it runs 15-20% faster than a plain source build such as pyenv's), else python3 on the
# PATH. `make PYTHON=...` chooses another; .venv is built again when the choice changes.
SYSTEM_PYTHON := /usr/bin/python3
PYTHON ?= $(shell $(SYSTEM_PYTHON) -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && echo $(SYSTEM_PYTHON) || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INTERPRETER := $(VENV)/.interpreter
DEMO_LEARNERS ?= 1000
SAMPLE_EMAIL ?= zoe.lefevre@example.org
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 5000
DEMO_SMTP_PORT ?= 8025

.PHONY: demo test lint bench mutation system-packages services clean FORCE

# Which interpreter built .venv (its real path and version): rewritten only when that changes, so
# that the install below runs again, on a new .venv, after `make PYTHON=...` or an upgrade.
$(INTERPRETER): FORCE
	@chosen="$$($(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable), sys.version.split()[0])')"; \
	if [ "$$(cat $@ 2>/dev/null)" != "$$chosen" ]; then mkdir -p $(VENV) && echo "$$chosen" > $@; fi

$(STAMP): pyproject.toml $(INTERPRETER)
	@chosen="$$(cat $(INTERPRETER))"; rm -rf $(VENV); mkdir -p $(VENV); echo "$$chosen" > $(INTERPRETER)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian tools the tests use: qpdf checks every PDF we produce, Chromium runs the browser
# journeys (Playwright drives /usr/bin/chromium; it cannot download a browser of its own here).
# Installed only when missing.
DEBIAN_PACKAGES := qpdf chromium fonts-dejavu-core
system-packages:
	@missing=""; \
	command -v qpdf >/dev/null 2>&1 || missing="$$missing qpdf"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# axe-core (the accessibility checker the browser journeys run in each page), from the npm
# registry at the version package-lock.json pins.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $(NODE_STAMP)

services:
	@scripts/ensure-services.sh

demo: $(STAMP)
	mkdir -p instance
	$(BIN)/dsr demo seed --learners $(DEMO_LEARNERS)
	$(BIN)/dsr map check --live
	@echo "--- what the map finds for the sample learner $(SAMPLE_EMAIL) ---"
	$(BIN)/dsr subject find --summary $(SAMPLE_EMAIL)
	$(BIN)/dsr map ropa --format pdf --lang fr --output instance/ropa-fr.pdf
	$(BIN)/dsr map ropa --format pdf --lang en --output instance/ropa-en.pdf
	$(BIN)/dsr map ropa --format csv --lang fr --output instance/ropa-fr.csv
	@echo "Demo ready: instance/demo-platform.sqlite3 holds the learner platform; the register is in instance/ropa-*.pdf|csv."
	@echo "--- the desk, with a local mailbox for its emails (Ctrl-C to stop) ---"
	$(BIN)/dsr demo run --host $(DEMO_HOST) --port $(DEMO_PORT) --smtp-port $(DEMO_SMTP_PORT)

test: $(STAMP) $(NODE_STAMP) system-packages services
	$(BIN)/pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check inventory exports dsr tests bench
	$(BIN)/ruff format --check inventory exports dsr tests bench
	$(BIN)/mypy

bench: $(STAMP) services
	-$(BIN)/python bench/cli_start.py
	-$(BIN)/python bench/seed.py
	-$(BIN)/python bench/queue_page.py
	-$(BIN)/python bench/access.py
	-$(BIN)/python bench/erasure.py
	-$(BIN)/python bench/certificate.py
	-$(BIN)/python bench/retention.py
	-$(BIN)/python bench/load.py
	-$(BIN)/python bench/cold_start.py
	-$(BIN)/python bench/address_timing.py
	-$(BIN)/python bench/lookup.py

# Mutation testing of the modules where a silent change hurts most, each against its own tests
# (pyproject.toml, [tool.privacy-desk.mutation.*]): scores and surviving mutants, like a benchmark.
# `make mutation MODULE=workflow` runs one module (MODULE=workflow,csv_safe: several).
MODULE ?=
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py $(subst $(comma), ,$(MODULE))

comma := ,

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache .mypy_cache .ruff_cache
