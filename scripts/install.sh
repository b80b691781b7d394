#!/usr/bin/env bash
# The one install recipe of keras-rexnet: used by `make install`, CI and the README.
# Creates or updates $VENV (default .venv) and is idempotent: when nothing that
# shapes the environment changed since the last successful run, it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

# 1. Debian packages: libusb (tflite-support's metadata module loads it); openssl (the tests'
#    Google Drive stand-in makes a throw-away certificate with it).
debs=()
ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0' || debs+=(libusb-1.0-0)
command -v openssl >/dev/null 2>&1 || debs+=(openssl)
if [ ${#debs[@]} -gt 0 ]; then
  echo "install.sh: installing Debian ${debs[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${debs[@]}"
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"

stamp="$VENV/.keras-rexnet-install"
want=$(cat requirements.txt setup.py pyproject.toml scripts/install.sh | sha256sum | cut -d' ' -f1)
no_triton='import importlib.util, sys; sys.exit(importlib.util.find_spec("triton") is not None)'
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$PY" -c "$no_triton" 2>/dev/null \
   && [ -x "$VENV/task-library/bin/python" ]; then
  echo "install.sh: $VENV is up to date"
  exit 0
fi
rm -f "$stamp"

# 2. One pinned install (torch/torchvision 2.14.1/0.29.1 come from this machine kind's disk).
"$PY" -m pip install -q --upgrade pip setuptools wheel
"$PY" -m pip install -q -r requirements.txt
# 3. tflite-support without its protobuf<4 pin; its metadata writers work with TF's protobuf.
"$PY" -m pip install -q --no-deps tflite-support==0.4.4
# 4. The TFLite Task Library runtime (tflite_support.task) needs protobuf 3.20, which TensorFlow
#    2.21 refuses: it gets a small venv of its own inside $VENV (so `make clean` removes it), used
#    by keras_rexnet.tflite.runtimes in a subprocess (MediaPipe Tasks is in requirements.txt).
TASK_VENV="$VENV/task-library"
[ -x "$TASK_VENV/bin/python" ] || "$PYTHON" -m venv "$TASK_VENV"
"$TASK_VENV/bin/python" -m pip install -q tflite-support==0.4.4 protobuf==3.20.3
"$TASK_VENV/bin/python" -c "from tflite_support.task import vision" \
  || { echo "install.sh: the Task Library venv $TASK_VENV does not import" >&2; exit 1; }
# The project itself, editable (keras_rexnet, keras_rexnet.converters, keras_rexnet.tflite).
"$PY" -m pip install -q --no-deps --no-build-isolation -e .
# 5. Last pip step: triton (pulled in by torch) segfaults beside TensorFlow in one process.
"$PY" -m pip uninstall -y -q triton 2>/dev/null || true
"$PY" -c "$no_triton" || { echo "install.sh: triton is still installed" >&2; exit 1; }
echo "$want" > "$stamp"
echo "install.sh: $VENV ready"
