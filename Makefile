# Anxin — the two commands a newcomer needs: `make run` and `make test`.
# Both create the virtual environment and install everything themselves.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MANIFESTS := pyproject.toml uv.lock shared/pyproject.toml cli/pyproject.toml \
             $(wildcard services/*/pyproject.toml)

.PHONY: run test install lint typecheck policy-test openapi fuzz bench bench-decisions bench-audit bench-voice clean help

help:
	@echo "make run          start the whole suite on SQLite with demo data (dev)"
	@echo "make test         run every test (unit, policy cases, end-to-end; PostgreSQL too"
	@echo "                  when ANXIN_TEST_POSTGRES_URL is set, as .ci/run does)"
	@echo "make lint         ruff lint + format check; make typecheck: mypy"
	@echo "make policy-test  run policies/tests/*.yaml"
	@echo "make openapi      refresh the gateway's snapshots of the services' public API"
	@echo "make fuzz         a longer schemathesis run against the gateway's /openapi.json"
	@echo "make bench        all benchmarks (bench-decisions ~5 min, bench-audit ~2 min, bench-voice)"

$(STAMP): $(MANIFESTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv sync --all-packages --locked --python $(BIN)/python
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/anxin up

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared/anxin_shared services/*/anxin_* cli/anxin_cli
	$(BIN)/anxin policy lint
	$(BIN)/anxin policy test
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy shared/anxin_shared services/*/anxin_* cli/anxin_cli

policy-test: $(STAMP)
	$(BIN)/anxin policy lint
	$(BIN)/anxin policy test

openapi: $(STAMP)
	$(BIN)/python scripts/export_openapi.py

# A longer schemathesis run than the bounded one in make test.
fuzz: $(STAMP)
	ANXIN_SCHEMATHESIS_EXAMPLES=100 ANXIN_SCHEMATHESIS_STATEFUL_EXAMPLES=200 \
		$(BIN)/pytest tests/security/test_schemathesis.py

# Benchmarks print their figures, the baseline they name and the ratio; not part of make test.
bench: bench-decisions bench-audit bench-voice

bench-decisions: $(STAMP)
	$(BIN)/python benchmarks/decisions.py

bench-audit: $(STAMP)
	$(BIN)/python benchmarks/audit.py

bench-voice: $(STAMP)
	$(BIN)/python benchmarks/voice.py

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
