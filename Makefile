# Atlantide Engage: `make up` runs the platform, `make test` checks it.
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.8
SYNCED := $(VENV)/.synced

.PHONY: install up test lint typecheck pytest bench chaos migrate clean

$(SYNCED): pyproject.toml uv.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Atlantide Engage needs Python >= 3.11 (PYTHON=$(PYTHON))"; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv sync --frozen --inexact
	@touch $(SYNCED)

install: $(SYNCED)

up: install
	$(VENV)/bin/engage up

migrate: install
	$(VENV)/bin/engage migrate

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy .

pytest: install
	$(VENV)/bin/pytest

test: lint typecheck pytest

# Speed and memory figures, then the fault suite's (too long for CI's run on two cores).
bench: install
	$(VENV)/bin/python -m benchmarks
	$(VENV)/bin/python -m chaos

# The fault suite (docs/chaos.md): a private platform, engagements under faults, invariants.
chaos: install
	$(VENV)/bin/python -m chaos

clean:
	rm -rf $(VENV) .engage .mypy_cache .ruff_cache .pytest_cache
