# Two commands for a fresh machine with Python 3.11+:
#   make handout   install everything into .venv and build results/hs/handout.html
#   make test      install everything into .venv and run the test suite (both tiers)
#   make check     the fast tier only: in-process tests of every computation, no Snakemake run
#   make study     the full Monte Carlo study (1000 replicates per scenario)
#   make bench     benchmarks against statsmodels (and lme4 when Rscript is there), with
#                  parquet and Dask fits; flags via BENCH_ARGS, e.g. make bench BENCH_ARGS=--quick
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
DATASETS ?=
BENCH_ARGS ?=

.PHONY: handout test check study bench venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[pipeline,test]"
	@# compile the engine's numba kernels once (cached next to the sources),
	@# so that no pipeline step or test pays the compilation
	$(BIN)/mlmcompare fit "mathach ~ ses * Sector + (1 + ses | school)" data/hsfull.csv > /dev/null
	touch $@

handout: venv
	$(BIN)/snakemake --cores $(CORES) $(if $(DATASETS),--config 'run=[$(DATASETS)]')

study: venv
	$(BIN)/snakemake --cores $(CORES) --config 'study={scale: full}'

bench: venv
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/run.py $(BENCH_ARGS)

test: venv
	$(BIN)/python -m pytest tests

check: venv
	$(BIN)/python -m pytest tests/unit

clean:
	rm -rf results .snakemake
