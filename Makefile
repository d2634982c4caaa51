# supportgraph: `make run` serves the agent, `make test` runs the tests and the eval gate.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTHON ?= python3
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export LANGGRAPH_CLI_NO_ANALYTICS := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run seed chat test unit eval lint studio bench loadtest clean

setup: $(STAMP)

# torch first: pinned to the CPU build so nothing pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: setup
	$(BIN)/supportgraph serve

seed: setup
	$(BIN)/supportgraph seed

chat: setup
	$(BIN)/supportgraph chat

test: setup
	$(BIN)/pytest -q --durations=15
	$(BIN)/supportgraph db check
	$(BIN)/supportgraph eval --summary

unit: setup
	$(BIN)/pytest -q --durations=15

eval: setup
	$(BIN)/supportgraph eval --report var/eval-report.json

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	SUPPORTGRAPH_DATA_DIR=var/bench $(BIN)/supportgraph bench

loadtest: setup
	SUPPORTGRAPH_DATA_DIR=var/load $(BIN)/supportgraph loadtest

studio: setup
	$(BIN)/supportgraph seed
	$(BIN)/langgraph dev --no-browser

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
