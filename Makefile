# Wushe Ledger: `make run` serves the demo ledger, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install demo bench clean-demo

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# Initialise and seed the embedded demo ledger once (.wushe/), then serve it.
run: $(STAMP)
	$(BIN)/wushe init --exists-ok
	$(BIN)/wushe demo --exists-ok
	$(BIN)/wushe serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	@if ls bench/*.py >/dev/null 2>&1; then for b in bench/*.py; do $(BIN)/python $$b || exit 1; done; \
	else echo "no benchmarks yet"; fi

clean-demo:
	rm -rf .wushe
