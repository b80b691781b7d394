#!/usr/bin/env bash
# Run the test suite: tests/common once, tests/backend once per Keras backend.
# Usage: scripts/run_tests.sh MARKEXPR   (e.g. "not slow" or "slow")
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
mark=${1:-not slow}
status=0
run() {  # pytest exit 5 = "no tests collected": fine for a marker selection with none
  "$@"; rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then status=$rc; fi
}
echo "== tests/common (-m '$mark')"
run env KERAS_BACKEND=tensorflow "$PY" -m pytest tests/common -m "$mark"
for backend in tensorflow jax torch; do
  echo "== tests/backend on KERAS_BACKEND=$backend (-m '$mark')"
  run env KERAS_BACKEND=$backend "$PY" -m pytest tests/backend -m "$mark"
done
echo "== tests/tflite (-m '$mark')"
run env KERAS_BACKEND=tensorflow "$PY" -m pytest tests/tflite -m "$mark"
exit $status
