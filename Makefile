# Two commands on a fresh machine:  `make run` (demo study)  and  `make test` (test suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install clean-runs baselines pin

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# The official LPIPS, the tests' reference (tests/metrics/test_metrics_lpips.py). --no-deps: its torchvision
	# requirement would pull a torchvision (and CUDA torch) that breaks beside our CPU torch.
	$(PY) -m pip install --quiet --no-deps lpips==0.1.4
	# The official Real-ESRGAN, whose SRVGGNetCompact is the reference of tests/sr_models/test_sr_realesrgan_compact.py
	# (the test runs only srvgg_arch.py). --no-deps: its basicsr requirement pulls torchvision, as above.
	$(PY) -m pip install --quiet --no-deps realesrgan==0.3.0
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m benchmark run --suite demo

# pytest exits 5 when it collects no tests: a broken test tree, so it fails loudly rather than passing.
# Two worker processes, each taking whole test files (module fixtures are built once).
test: $(STAMP)
	@$(PY) -m pytest -q -n 2 --dist loadfile; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: check tests/ and pyproject.toml"; fi; \
	exit $$status

# After a deliberate change: rewrite the regression baselines with tolerances measured across instruction
# sets (the suite runs once per setting, fresh caches; a few minutes each). Review `git diff` and commit.
baselines: $(STAMP)
	$(PY) -m benchmark check --suite pneumonia-mini --measure-tolerances
	$(PY) -m benchmark check --suite pneumonia-mini --smoke --measure-tolerances

# After a deliberate change to training: retrain the mini study's pinned models (then `make baselines`).
pin: $(STAMP)
	$(PY) -m benchmark pin --suite pneumonia-mini-train --out data_manifests/pinned/pneumonia-mini

clean-runs:
	rm -rf runs
