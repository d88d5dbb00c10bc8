# Two commands matter: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# apt-get needs root; use sudo -n when we are not root (non-interactive, fails clearly if not allowed).
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo "sudo -n")

.PHONY: run test deps test-deps system-deps bench clean

run: deps
	@mkdir -p var
	$(BIN)/oor serve --demo

test: test-deps system-deps
	$(BIN)/python -m pytest

deps: $(VENV)/.deps node_modules/.installed
test-deps: $(VENV)/.test-deps node_modules/.installed

# The build backend pyproject.toml names, pinned and installed first, so that the editable install builds
# with it in this venv (no isolated build environment to download, and no failed first attempt: the
# setuptools a fresh venv comes with is too old to build an editable wheel).
BUILD_PINS := setuptools==80.9.0

$(VENV)/.deps: pyproject.toml requirements.lock
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(BUILD_PINS)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.test-deps: $(VENV)/.deps requirements-test.lock
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-test.lock
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests (never `playwright install`), swaks for SMTP tests, and the
# servers the tests start themselves in temporary folders (never the system services): PostgreSQL 15,
# nginx and Redis; openssl makes the test certificate, systemd gives `systemd-analyze verify` of the units.
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v swaks >/dev/null \
	    || ! [ -x /usr/lib/postgresql/15/bin/initdb ] || ! [ -x /usr/sbin/nginx ] \
	    || ! command -v redis-server >/dev/null || ! command -v openssl >/dev/null \
	    || ! command -v systemd-analyze >/dev/null; then \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium swaks postgresql nginx redis-server openssl systemd; \
	fi

bench: test-deps
	@ls bench/*.py >/dev/null 2>&1 && for b in bench/*.py; do $(BIN)/python $$b; done || echo "no benchmarks yet"

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis
