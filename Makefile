# One entry point for people and CI. Every target (re)creates the virtualenv
# when a pyproject.toml changes, so a fresh clone needs only python3 >= 3.11.
# Two distributions: the operator (.) and its test world, modelsync-sandbox (./sandbox),
# installed together in one pip call so the sandbox's `modelsync` requirement is the
# checkout's. `make test` adds the test toolchain; `make demo` installs none of it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
PYPROJECTS := pyproject.toml sandbox/pyproject.toml
# loadgroup: the tests of the real control plane (xdist group "real-cluster") share one
# worker and one control plane; the rest spread over both workers. --durations lists the
# slowest tests at the end (the suite should stay near 10 minutes on 2 cores).
PYTEST_ARGS ?= -n 2 --dist loadgroup --durations=25

.PHONY: test lint typecheck importcheck unit control-plane helm demo sandbox-catalog bench clean

define make_venv
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python >= 3.11 required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
endef

$(STAMP): $(PYPROJECTS)
	$(make_venv)
	$(BIN)/python -m pip install --quiet -e '.[test]' -e ./sandbox
	touch $(STAMP)

$(DEMO_STAMP): $(PYPROJECTS)
	@echo "make demo: installing the operator and its sandbox into $(VENV) (first run only)"
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python >= 3.11 required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip > $(VENV)/install.log 2>&1 \
		&& $(BIN)/python -m pip install --quiet -e . -e ./sandbox >> $(VENV)/install.log 2>&1 \
		|| { cat $(VENV)/install.log; exit 1; }
	@touch $(DEMO_STAMP)
	@echo "make demo: installed; starting the demo"

lint: $(STAMP)
	$(BIN)/ruff check operator sandbox tests bench scripts
	$(BIN)/ruff format --check operator sandbox tests bench scripts
	$(BIN)/vulture operator/modelsync sandbox/modelsync_sandbox vulture_whitelist.py --min-confidence 60

typecheck: $(STAMP)
	$(BIN)/mypy --strict operator/modelsync sandbox/modelsync_sandbox scripts bench

importcheck: $(STAMP)
	$(BIN)/lint-imports

# The real control plane (etcd, kube-apiserver, kube-controller-manager) from
# tools/control-plane, built once per machine into ~/.cache/modelsync/control-plane.
control-plane:
	scripts/real-cluster build

# helm from tools/helm (the chart's tests), built once per machine into ~/.cache/modelsync/helm.
helm:
	scripts/helm-binary

unit: $(STAMP) control-plane helm
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck importcheck unit

demo: $(DEMO_STAMP)
	@$(BIN)/modelsync demo

bench: $(STAMP)
	$(BIN)/python bench/operator_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
