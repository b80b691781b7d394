# keras-rexnet: every set-up goes through scripts/install.sh (the one install recipe).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
BACKENDS := tensorflow jax torch

.PHONY: install demo test test-fast test-slow bench clean

install:
	bash scripts/install.sh

demo: install
	$(PY) -m keras_rexnet.demo

# The whole suite: backend-independent tests once, then the model tests in one process per
# Keras backend. Slow checks (marked `slow`) run in `make test-slow`, CI's second stage.
test: install
	bash scripts/run_tests.sh "not slow"

test-slow: install
	bash scripts/run_tests.sh "slow"

# Benchmarks (not tests): figures for the README, measured side by side in one run.
bench: install
	KERAS_BACKEND=tensorflow $(PY) benchmarks/convert_official.py
	KERAS_BACKEND=tensorflow $(PY) benchmarks/tflite_latency.py
	KERAS_BACKEND=tensorflow $(PY) benchmarks/speed.py
	$(PY) benchmarks/speed_report.py > benchmarks/results/speed.md

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info artifacts
