# Two commands for a fresh machine with Python 3.11+:
#   make handout   install everything into .venv and build results/hs/handout.html
#   make test      install everything into .venv and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
DATASETS ?=

.PHONY: handout test venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[pipeline,test]"
	touch $@

handout: venv
	$(BIN)/snakemake --cores $(CORES) $(if $(DATASETS),--config 'run=[$(DATASETS)]')

test: venv
	$(BIN)/python -m pytest

clean:
	rm -rf results .snakemake
