# Two commands set up everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
SHARED ?= ../shared
DEMO   ?= demo-out

.PHONY: install demo test bench clean install-synapse test-synapse synapse-demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $@

demo: install
	$(BIN)/bulkguard demo --out $(DEMO)

# mypy first (configured in pyproject.toml: strict at the seams), then the tests.
test: install
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

# Protecting a Matrix homeserver (docs/synapse.md): the `synapse` extra (Synapse, the antispam
# module, matrix-nio) is installed only by these targets, not by `make test`.
install-synapse: $(VENV)/.installed-synapse

$(VENV)/.installed-synapse: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -e '.[dev,synapse]'
	touch $@

test-synapse: install-synapse
	$(BIN)/python -m pytest -q -m synapse tests/integration

synapse-demo: install-synapse
	$(BIN)/python -m bulkguard.integrations.synapse.demo

# The benchmark runs the production build: the hot path compiled with mypyc.
bench: install
	rm -rf build && BULKGUARD_COMPILE=1 $(BIN)/pip install -q --no-build-isolation --no-deps --target build/fast .
	PYTHONPATH=build/fast $(BIN)/python bench/replay.py

clean:
	rm -rf $(VENV) $(DEMO) build *.egg-info src/*.egg-info
