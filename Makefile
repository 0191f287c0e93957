# Wushe Ledger: `make run` serves the demo ledger, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install demo bench bench-1m clean-demo messages

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

# The million-event runs: a decade of Changning (seeded once into $(BENCH_1M), ~5 minutes), then
# the rebuild, the audit and the public pages over it, and the goals table (bench/summary.py).
BENCH_1M ?= build/bench-1m
bench-1m: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	@test -f $(BENCH_1M)/ledger.sqlite3 || { $(BIN)/wushe --data-dir $(BENCH_1M) init && \
		$(BIN)/wushe --data-dir $(BENCH_1M) demo --years 10 --scale 96; }
	$(BIN)/python bench/bench_rebuild.py --data $(BENCH_1M) --repeats 1 --no-verify-all
	$(BIN)/python bench/bench_audit.py --data $(BENCH_1M) --repeats 1
	$(BIN)/python bench/bench_pages.py --data $(BENCH_1M)
	$(BIN)/python bench/summary.py

# The message catalogue (ledger/messages.py): new texts of msg(...) and term(...) into the zh-CN
# .po with an empty translation (fill them in; tests/unit/test_messages.py fails until then).
messages: $(STAMP)
	@mkdir -p build
	$(BIN)/pybabel extract --no-default-keywords -k msg -k term --no-location --sort-output \
		--project wushe-ledger -o build/wushe.pot ledger api audits projections wushe
	$(BIN)/pybabel update -i build/wushe.pot -d ledger/locale -D wushe -l zh_CN --ignore-pot-creation-date \
		--no-fuzzy-matching --ignore-obsolete

clean-demo:
	rm -rf .wushe
