# Two commands on a fresh machine:  `make run` (demo study)  and  `make test` (test suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install clean-runs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m benchmark run --suite demo

# pytest exits 5 when it collects no tests: a broken test tree, so it fails loudly rather than passing.
test: $(STAMP)
	@$(PY) -m pytest -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: check tests/ and pyproject.toml"; fi; \
	exit $$status

clean-runs:
	rm -rf runs
