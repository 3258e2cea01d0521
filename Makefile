# Anxin — the two commands a newcomer needs: `make run` and `make test`.
# Both create the virtual environment and install everything themselves.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MANIFESTS := pyproject.toml uv.lock shared/pyproject.toml cli/pyproject.toml \
             $(wildcard services/*/pyproject.toml)

.PHONY: run test install lint typecheck policy-test openapi fuzz bench bench-decisions bench-audit bench-voice bench-gateway clean help

help:
	@echo "make run          start the whole suite on SQLite with demo data (dev)"
	@echo "make test         run every test (unit, policy cases, end-to-end; PostgreSQL too"
	@echo "                  when ANXIN_TEST_POSTGRES_URL is set, as .ci/run does)"
	@echo "make lint         ruff lint + format check; make typecheck: mypy"
	@echo "make policy-test  run policies/tests/*.yaml"
	@echo "make openapi      refresh the gateway's snapshots of the services' public API"
	@echo "make fuzz         a longer schemathesis run against the gateway's /openapi.json"
	@echo "make bench        all benchmarks (bench-decisions ~5 min, bench-audit ~2 min, bench-voice,"
	@echo "                  bench-gateway ~5 min: needs wrk; writes var/proof/gateway.json)"
	@echo "make faults       fault injection under load (~3 min; ~6 min with PostgreSQL, run"
	@echo "                  when ANXIN_TEST_POSTGRES_URL is set): writes var/proof/faults.json"
	@echo "make proof        rewrite README.md's Proof table from var/proof/*.json (RUN=1: run all first)"
	@echo "make audit-deps   known vulnerabilities in .venv (PyPI's JSON API; documented exceptions"
	@echo "                  in security/dependency-exceptions.yaml)"

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
bench: bench-decisions bench-audit bench-voice bench-gateway

bench-decisions: $(STAMP)
	$(BIN)/python benchmarks/decisions.py

bench-audit: $(STAMP)
	$(BIN)/python benchmarks/audit.py

bench-voice: $(STAMP)
	$(BIN)/python benchmarks/voice.py

# The gateway against its ceiling (wrk; installs it when run as root). GATEWAY_BENCH_ARGS=--quick.
bench-gateway: $(STAMP)
	$(BIN)/python benchmarks/gateway.py $(GATEWAY_BENCH_ARGS)

# Kill, hang, slow and reset every dependency under load: longer than the bounded run in
# make test, every target (the database too on PostgreSQL). FAULTS_SECONDS: per fault.
.PHONY: faults
faults: $(STAMP)
	ANXIN_FAULTS_FULL=1 ANXIN_FAULTS_SECONDS=$(or $(FAULTS_SECONDS),5) \
		ANXIN_FAULTS_REPORT=var/proof/faults.json \
		$(BIN)/pytest -s -p no:cacheprovider tests/faults/test_faults_under_load.py

# The README's Proof table from the latest results; RUN=1 runs the attack suite, faults and
# the gateway benchmark first.
.PHONY: proof
proof: $(STAMP)
	$(BIN)/python scripts/proof.py $(if $(RUN),--run)

# Known vulnerabilities in what is installed in .venv: pip-audit (pinned in the dev group) as a
# library, asking PyPI's project-level JSON, which covers a project's latest release only. Any
# vulnerability not documented in security/dependency-exceptions.yaml, or an expired exception,
# fails the run; a package that is not its latest release ("unauditable") and a stale exception
# are warnings, errors with STRICT=1. Exit 1: findings; 3: the registry could not be read
# (never "0 found"); 4: bad exceptions file.
.PHONY: audit-deps
audit-deps: $(STAMP)
	$(BIN)/python scripts/audit_deps.py $(if $(STRICT),--strict)

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
