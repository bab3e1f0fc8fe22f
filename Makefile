# The two front-door commands (see README):
#   make baseline   set up, then run the baseline batch -> results/baseline/ with plots
#   make test       set up, then lint, type-check and run the tests with coverage
.PHONY: setup baseline scenarios test lint docs golden clean

VENV := .venv
BIN := $(VENV)/bin
RUNS ?= 200
SEED ?= 1
FORCE ?=

setup:
	@bash scripts/setup.sh

baseline: setup
	$(BIN)/rapprochement run scenarios/baseline.yaml --runs $(RUNS) --seed $(SEED) --report $(FORCE)

scenarios: setup
	$(BIN)/rapprochement run scenarios/*.yaml --runs $(RUNS) --seed $(SEED) $(FORCE)

lint: setup
	$(BIN)/ruff check sim tests scripts bench
	$(BIN)/ruff format --check sim tests scripts bench
	$(BIN)/mypy sim

test: lint
	$(BIN)/python -m pytest --cov=sim --cov-report=term-missing:skip-covered -q

docs: setup
	$(BIN)/rapprochement schema --format markdown > docs/scenarios.md

golden: setup
	$(BIN)/python -m scripts.regenerate_golden

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
