# evalkit front door: one target per user action. `make` (or `make help`) lists them.
#
# Every target that runs evalkit first makes sure .venv is current: the $(STAMP) rule below
# (re)builds it from requirements.lock when .venv is missing or broken, or when pyproject.toml,
# requirements.lock or scripts/venv.sh is newer than the stamp. Only Python 3.11, pip and make
# are needed on the machine. A target's one-line description is the `## ` comment above it.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# --- Variables (override on the command line: make report PROGRAMME=cyp) ---------------------
PROGRAMME ?= mindsong
SCALE ?= demo
SEED ?=
FORMAT ?=
# Intake mapping of the extract in data/raw (intake_mappings/<source>.yaml); recorded, so later
# runs reuse it without being told again.
MAPPING ?=
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 0
VENV ?= .venv

BIN := $(VENV)/bin
SEED_OPT := $(if $(SEED),--seed $(SEED))
MAPPING_OPT := $(if $(MAPPING),--mapping $(MAPPING))
# ENGINE=postgres|spark prepares data there (docs/engines.md); default embedded DuckDB.
ENGINE_OPT := $(if $(ENGINE),--engine $(ENGINE))
STAMP := $(VENV)/.stamp
LINT_PATHS := $(wildcard src tests bench scripts)
# Repeated blocks allowed in src/ (pylint duplicate-code): 8 before the 0.4 restructure, cut to
# a third of that; `make lint` fails above it.
DUPLICATE_MAX := 2
NOTEBOOKS := $(wildcard notebooks/*.ipynb)
# Notebook tests: nbval compares the committed outputs, in this venv's kernel.
# Strict mode (never --nbval-lax); embedded figure PNGs are masked as nbval masks image/png.
NBVAL := $(if $(NOTEBOOKS),--nbval --nbval-current-env \
	--nbval-sanitize-with notebooks/nbval_sanitize.cfg $(NOTEBOOKS))
# pytest-xdist is off by default until PYTEST_WORKERS=2 is timed on an idle machine
# (bench/results/test_timing.md); the session fixtures on disk (counties, demo reports) are built
# once for all workers (tests/helpers/shared.py). --dist loadfile keeps each notebook's cells on
# one worker.
XDIST := $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile)
# Fixed hash seed for pytest and the notebook kernels it starts: a Poisson fit's 7th significant
# digit depends on string-set iteration order (see evalkit.reporting.pipeline.HASH_SEED).
# Fixed CPU code paths (OpenBLAS, numpy, numba) for the same bytes on any x86-64 with AVX2, in
# every recipe (synth, intake, reports, tests): the values of evalkit.reporting.pipeline.CPU_ENV,
# which the report kernels get wherever they are started (assumptions log ENV-3).
export OPENBLAS_CORETYPE := Haswell
export NPY_DISABLE_CPU_FEATURES := X86_V4 AVX512_ICL AVX512_SPR
export NUMBA_CPU_NAME := haswell
PYTEST := PYTHONHASHSEED=0 $(BIN)/python -m pytest $(XDIST)

# Targets that never touch the venv skip its health check (so `make help` needs no Python).
NO_VENV_GOALS := help clean distclean lock postgres
ifneq ($(filter-out $(NO_VENV_GOALS),$(or $(MAKECMDGOALS),help)),)
  # A venv whose python is missing, broken or not 3.11 is rebuilt whatever the stamp's age.
  VENV_OK := $(shell [ -x $(BIN)/python ] && $(BIN)/python -c \
    'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1 && echo ok)
  ifneq ($(VENV_OK),ok)
    .PHONY: $(STAMP)
  endif
endif

# Run pytest; exit code 5 (no tests collected) is a failure, said plainly.
define run_pytest
	rc=0; $(PYTEST) $(1) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make: pytest collected no tests (exit 5): a failure" >&2; fi; \
	exit $$rc
endef

.PHONY: help venv data report reports providers notebooks check programmes synth test test-slow \
	lint bench lock clean distclean postgres

## Show every target with a one-line description (the default)
help:
	@echo "Usage: make TARGET [PROGRAMME=mindsong] [MAPPING=intake_mappings/x.yaml] [SEED=n]"
	@echo
	@awk '/^## /{ desc = substr($$0, 4); next } \
	     /^[A-Za-z][A-Za-z0-9_-]*:/ && desc != "" { \
	         split($$0, parts, ":"); printf "  %-11s %s\n", parts[1], desc } \
	     { desc = "" }' $(firstword $(MAKEFILE_LIST))
	@echo
	@echo "Variables: PROGRAMME=$(PROGRAMME) MAPPING=$(or $(MAPPING),(none or the recorded one))"
	@echo "           SCALE=$(SCALE) SEED=$(or $(SEED),(evalkit's default))"
	@echo "           ENGINE=$(or $(ENGINE),duckdb) (postgres needs EVALKIT_DATABASE_URL; make postgres)"
	@echo "           PYTEST_ARGS='$(PYTEST_ARGS)' PYTEST_WORKERS=$(PYTEST_WORKERS) VENV=$(VENV)"

$(STAMP): pyproject.toml requirements.lock scripts/venv.sh scripts/lockdiff.py
	@VENV=$(VENV) bash scripts/venv.sh

## Create or refresh .venv from requirements.lock (internal: every target does it first)
venv: $(STAMP)

## Intake of data/raw (with its mapping); the demo county in data/demo if there is no real data
data: $(STAMP)
	$(BIN)/evalkit data $(SEED_OPT) $(MAPPING_OPT) $(ENGINE_OPT)

## Build reports/$(PROGRAMME)/ (default PROGRAMME=mindsong) from real data, else the demo county
report: $(STAMP)
	$(BIN)/evalkit report --programme $(PROGRAMME) $(SEED_OPT) $(MAPPING_OPT) $(ENGINE_OPT)

## Re-execute notebooks/report.ipynb on the demo county and commit its outputs (for nbval)
notebooks: $(STAMP)
	$(BIN)/evalkit data --raw data/demo --processed data/demo/processed $(SEED_OPT)
	cd notebooks && PYTHONHASHSEED=0 ../$(BIN)/papermill report.ipynb report.ipynb --cwd . -k python3 \
		--no-progress-bar

## Provider data-quality reports in reports/providers/ (problem lists in data/returns/)
providers: $(STAMP)
	$(BIN)/evalkit data $(SEED_OPT) $(MAPPING_OPT)
	$(BIN)/evalkit providers

## Scan reports/ for small counts and identifiers (the disclosure checker)
check: $(STAMP)
	$(BIN)/evalkit check

## All programmes + comparison page
reports: $(STAMP)
	$(BIN)/evalkit reports $(SEED_OPT) $(MAPPING_OPT) $(ENGINE_OPT)

## Start a local PostgreSQL in .postgres/ (Debian's server) and print EVALKIT_DATABASE_URL
postgres:
	@bash scripts/postgres.sh start

## List the programme configs in programmes/ (and check they are valid)
programmes: $(STAMP)
	$(BIN)/evalkit programmes

## Synthetic county into data/demo (SCALE=demo|county, SEED=n, FORMAT=csv|parquet)
synth: $(STAMP)
	$(BIN)/evalkit synth --scale $(SCALE) $(SEED_OPT) $(if $(FORMAT),--format $(FORMAT)) \
		--demo data/demo

## Unit, reference, doctest and notebook (nbval) tests; not slow or R (PYTEST_ARGS adds)
test: $(STAMP)
	@$(call run_pytest,-m "not slow and not r" --doctest-modules src/evalkit tests $(NBVAL))

## Slow statistical and county-scale tests (not in make test)
test-slow: $(STAMP)
	@$(call run_pytest,-m "slow and not r" tests bench)

## ruff check, format check, the import contracts and the repeated-code cap (CI runs it)
lint: $(STAMP)
	@rc=0; \
	echo "ruff check"; $(BIN)/ruff check $(LINT_PATHS) || rc=1; \
	echo "ruff format --check"; $(BIN)/ruff format --check $(LINT_PATHS) || rc=1; \
	echo "lint-imports (layers; the statistics layer is domain-free)"; $(BIN)/lint-imports || rc=1; \
	echo "duplicate-code in src/"; \
	$(BIN)/python scripts/duplicate_code.py --max $(DUPLICATE_MAX) src/evalkit || rc=1; \
	exit $$rc

## Timings and simulation studies (runs every bench/*.py)
bench: $(STAMP)
	@found=0; for script in bench/*.py; do \
		[ -e "$$script" ] || continue; found=1; \
		echo ">> $$script"; $(BIN)/python "$$script"; \
	done; \
	if [ $$found -eq 0 ]; then echo "No benchmarks in bench/ yet."; fi

## Re-resolve the newest allowed versions into requirements.lock and environment.yml
lock:
	@py=$$(bash scripts/venv.sh --find-python); "$$py" scripts/lock.py

## Remove data/processed, data/demo/processed and reports (never data/raw)
clean:
	find data/processed reports -mindepth 1 ! -name .gitkeep -delete 2>/dev/null || true
	rm -rf data/demo/processed
	@echo "Removed data/processed/*, data/demo/processed and reports/* (data/raw untouched)."

## clean, and also remove the demo county (data/demo) and .venv
distclean: clean
	rm -rf data/demo $(VENV)
