# Two commands set up everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
SHARED ?= ../shared
DEMO   ?= demo-out
# The compiled build (what `pip install .` gives users), installed beside the editable
# development install: `PYTHONPATH=$(FAST)` puts it first.
FAST   ?= build/fast

.PHONY: install fast demo test bench peer clean install-synapse test-synapse synapse-demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $@

# The hot path compiled with mypyc, rebuilt when a source changes (about 35 s here).
fast: $(FAST)/.built

$(FAST)/.built: $(VENV)/.installed setup.py pyproject.toml $(shell find src -name '*.py' -o -name '*.c')
	rm -rf $(FAST) build/lib* build/temp*
	$(BIN)/pip install -q --no-build-isolation --no-deps --target $(FAST) .
	PYTHONPATH=$(FAST) $(BIN)/python -m bulkguard --version
	touch $@

demo: fast
	PYTHONPATH=$(FAST) $(BIN)/python -m bulkguard demo --out $(DEMO)

# The editable install is pure Python; tests/test_compiled.py builds the compiled one and
# runs the suite against it too, comparing decisions byte for byte. The `synapse` extra is
# installed too, so the suite includes the real-homeserver tests (about 15 s more install,
# 30 s more tests). mypy first (configured in pyproject.toml: strict at the seams).
test: install-synapse
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

# Protecting a Matrix homeserver (docs/synapse.md): the `synapse` extra (Synapse, the antispam
# module, matrix-nio); `make test-synapse` runs only the real-homeserver tests.
install-synapse: $(VENV)/.installed-synapse

$(VENV)/.installed-synapse: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -e '.[dev,synapse]'
	touch $@

test-synapse: install-synapse
	$(BIN)/python -m pytest -q -m synapse tests/integration

synapse-demo: install-synapse
	$(BIN)/python -m bulkguard.integrations.synapse.demo

# Benchmarks run the compiled build.
bench: fast
	PYTHONPATH=$(FAST) $(BIN)/python bench/replay.py

# bulkguard against a naive stdlib rate limiter, pure and compiled builds, same run.
peer: fast
	$(BIN)/python bench/peer.py --fast $(FAST) --shared $(SHARED)

clean:
	rm -rf $(VENV) $(DEMO) build *.egg-info src/*.egg-info
