# Two commands for a fresh machine with Python 3.11+:
#   make handout   install everything into .venv and build results/hs/handout.html
#   make test      install everything into .venv and run the test suite (both tiers)
#   make check     the fast tier only: in-process tests of every computation, no Snakemake run
#   make study     the full Monte Carlo study (1000 replicates per scenario)
#   make bench     benchmarks against statsmodels (and lme4 when Rscript is there), with
#                  parquet and Dask fits; flags via BENCH_ARGS, e.g. make bench BENCH_ARGS=--quick
#   make lock      re-resolve requirements.lock after a change of pyproject.toml (keeps the other pins)
#   make lock-upgrade   every locked package to its newest release (then review, test, commit)
#   make reference the committed reference numbers (tests/reference/default_run.parquet) from a
#                  fresh default run, after a change that moves numbers on purpose
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every package .venv holds, pinned with its sha256 hashes for CPython 3.11+
# on every platform (one universal resolution): the extras of pyproject.toml
# (all of them, so that handout, test and bench install nothing more), the
# build backend (the project installs without build isolation) and pip itself.
LOCK := requirements.lock
LOCK_VENV := .venv-lock
UV_VERSION := 0.13.9
# what pyproject.toml's [build-system] requires, and pip
LOCK_EXTRA = $(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], "pip", sep="\n")'
CORES ?= 2
DATASETS ?=
BENCH_ARGS ?=

.PHONY: handout test check study bench venv lock lock-upgrade reference clean

# The stamp is named by the content of pyproject.toml and the lock, not by
# their times: a .venv/ restored from a CI cache (keyed on the same two files)
# counts as installed, and any edit of either reinstalls.
VENV_KEY := $(shell $(PYTHON) -c 'import hashlib, sys; print(hashlib.sha256(b"".join(open(f, "rb").read() for f in sys.argv[1:])).hexdigest()[:16])' pyproject.toml $(LOCK))
STAMP := $(VENV)/.installed-$(VENV_KEY)

venv: $(STAMP)

# A fresh environment holding exactly the lock, every file checked against its
# hash: first the locked pip, setuptools and wheel (pip's bundled copy upgrades
# itself), which then build what PyPI ships as source only (no build isolation:
# nothing unhashed comes in), then the rest of the lock, then the project itself,
# editable. `pip check` fails when the lock no longer covers pyproject.toml.
BUILD_TOOLS := awk '/^(pip|setuptools|wheel)==/{on=1} on{print} on && !/\\$$/{on=0}' $(LOCK)

$(STAMP):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv --clear $(VENV)
	$(BUILD_TOOLS) | $(BIN)/python -m pip install --quiet --require-hashes --no-deps -r /dev/stdin
	$(BIN)/python -m pip install --quiet --require-hashes --no-build-isolation -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@# compile the engine's numba kernels once (cached next to the sources),
	@# so that no pipeline step or test pays the compilation
	$(BIN)/mlmcompare fit "mathach ~ ses * Sector + (1 + ses | school)" data/hsfull.csv > /dev/null
	$(BIN)/mlmcompare fit "strength ~ 1 + (1 | batch/cask)" tests/golden/data/pastes.csv > /dev/null
	touch $@

handout: venv
	$(BIN)/snakemake --cores $(CORES) $(if $(DATASETS),--config 'run=[$(DATASETS)]')

study: venv
	$(BIN)/snakemake --cores $(CORES) --config 'study={scale: full}'

bench: venv
	$(BIN)/python bench/run.py $(BENCH_ARGS)

test: venv
	$(BIN)/python -m pytest -n $(CORES) --dist worksteal tests

check: venv
	$(BIN)/python -m pytest -n $(CORES) tests/unit

reference: venv
	$(BIN)/python -m tests.reference.tables regenerate

# The lock's tools live in their own environment: uv resolves, and the
# project's lock reader (it needs only `packaging`) writes environment.yml.
$(LOCK_VENV)/bin/uv:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet "uv==$(UV_VERSION)" "packaging>=23"

lock: $(LOCK_VENV)/bin/uv
	$(LOCK_EXTRA) | $(LOCK_VENV)/bin/uv pip compile pyproject.toml - --all-extras \
	  --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock" \
	  --quiet --output-file $(LOCK) $(LOCK_ARGS)
	PYTHONPATH=src $(LOCK_VENV)/bin/python -m mlmcompare.report.environment conda pyproject.toml $(LOCK) > environment.yml.tmp
	mv environment.yml.tmp environment.yml

lock-upgrade:
	$(MAKE) lock LOCK_ARGS=--upgrade

clean:
	rm -rf results .snakemake
