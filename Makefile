# Two commands do all the set-up on a fresh machine (see README.md):
#   make run    installs qceas into .venv and runs the built-in default scenario
#   make test   installs qceas with its test extra into .venv, lints, type-checks, tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= results/quick

.PHONY: run test lint typecheck unit bench bench-sequence clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/qceas run --out $(OUT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

unit: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/round_speed.py

# The network benchmark beside SeQUeNCe, which needs Python >= 3.12: a second
# environment from python3.12 on PATH or pyenv's newest 3.12 (PYTHON312=... to choose).
PYTHON312 ?= $(shell for p in python3.12 $$(command -v pyenv >/dev/null && ls -d "$$(pyenv root)"/versions/3.12*/bin/python 2>/dev/null); do $$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { echo $$p; break; }; done)
SEQ_VENV  ?= .venv-sequence

bench-sequence:
	@test -n "$(PYTHON312)" || { echo "bench-sequence: no Python 3.12 found (set PYTHON312=...)"; exit 2; }
	test -x $(SEQ_VENV)/bin/python || $(PYTHON312) -m venv $(SEQ_VENV)
	$(SEQ_VENV)/bin/python -m pip install --quiet -e . "sequence==1.3.1"
	$(SEQ_VENV)/bin/python benchmarks/network_speed.py --skip-paper

clean:
	rm -rf $(VENV) $(SEQ_VENV) results .pytest_cache .mypy_cache .ruff_cache
