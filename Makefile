# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint install clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hocvuso demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/hocvuso lessons check

# The whole suite runs on SQLite, then again on PostgreSQL (127.0.0.1:5432, database test). In CI (CI=true)
# PostgreSQL must be there; elsewhere its run is skipped, saying so, when no server answers.
test: lint
	$(BIN)/pytest -q
	@if $(BIN)/python -m tests.pg_available; then \
		HOCVUSO_TEST_DB=postgresql $(BIN)/pytest -q -p no:cacheprovider; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is required in CI and did not answer on 127.0.0.1:5432" >&2; exit 1; \
	else \
		echo "PostgreSQL not reachable: the PostgreSQL run of the suite is skipped"; \
	fi

# Measures throughput, latency, statistics, memory, broadcast pace and start-up (docs/performance.md).
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
