"""Export started from a JAX session and from a PyTorch session: the exporter converts in a
TensorFlow-backend subprocess, and the files work like the ones made on TensorFlow."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_rexnet import tflite
from keras_rexnet.tflite.evaluate import reference_outputs

CHILD = r"""
import json, sys, warnings
backend, ckpt, out, kind, quantization = sys.argv[1:6]
import keras, keras_rexnet
from keras_rexnet import tflite
assert keras.config.backend() == backend, keras.config.backend()
model = keras_rexnet.ReXNetV1Lite(1.0, weights=ckpt)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    if kind == "onnx":
        path = tflite.export_onnx(model, out)
    else:
        q = None if quantization == "none" else quantization
        path = tflite.export_tflite(model, out, quantization=q, representative_data=(
            tflite.sample_photos(100, seed=101) if q == "int8" else None))
print("RESULT " + json.dumps({"backend": keras.config.backend(), "path": str(path),
                              "type": type(path).__name__,
                              "warnings": [f"{w.category.__name__}: {w.message}"
                                           for w in caught]}))
"""


def export_from(backend, ckpt, out, kind="tflite", quantization="none"):
    env = dict(os.environ, KERAS_BACKEND=backend)
    proc = subprocess.run([sys.executable, "-c", CHILD, backend, str(ckpt), str(out), kind,
                           quantization], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    result = json.loads(line[len("RESULT "):])
    assert result["backend"] == backend
    assert result["path"] == str(out) and result["type"].endswith("Path")
    return result


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_float32_from_other_backends(backend, lite_ckpt, lite_model, photos, work_dir):
    out = work_dir / f"from_{backend}.tflite"
    result = export_from(backend, lite_ckpt, out)
    ours = [w for w in result["warnings"] if w.split(":")[0] in (
        "AndroidCompatibilityWarning", "QuantizationWarning", "UserWarning")]
    assert not ours, ours
    assert tflite.check_android(out) == []
    md = tflite.read_metadata(out)
    assert md["norm_mean"] == [0.0] and md["norm_std"] == [1.0] and len(md["labels"]) == 1000
    got = tflite.run_tflite(out, photos[:16])
    ref = reference_outputs(lite_model, photos[:16].astype(np.float32))
    assert np.max(np.abs(got - ref)) <= 1e-4
    # nothing but the file is left in the output folder
    assert not [p for p in work_dir.iterdir() if p.name.startswith(f".from_{backend}")]


def test_checking_and_running_files_needs_no_tensorflow(exported, photos, tmp_path):
    """On JAX, importing keras_rexnet.tflite, checking a file and running it in LiteRT import
    no TensorFlow (only converting does, in its own process)."""
    path, _ = exported(None)
    np.save(tmp_path / "x.npy", photos[:2])
    script = r"""
import sys
import numpy as np
from keras_rexnet import tflite
assert tflite.check_android(sys.argv[1]) == []
out = tflite.run_tflite(sys.argv[1], np.load(sys.argv[2]))
print("SHAPE", out.shape, "TF", "tensorflow" in sys.modules)
"""
    proc = subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "x.npy")],
                          env=dict(os.environ, KERAS_BACKEND="jax"), capture_output=True,
                          text=True, timeout=600)
    assert "SHAPE (2, 1000) TF False" in proc.stdout, proc.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_int8_from_other_backends(backend, lite_ckpt, lite_model, photos, work_dir):
    out = work_dir / f"int8_from_{backend}.tflite"
    export_from(backend, lite_ckpt, out, quantization="int8")
    info = tflite.read_model(out)
    assert info.inputs[0].dtype == info.outputs[0].dtype == "uint8"
    assert tflite.check_android(out) == []
    ev = tflite.evaluate(out, photos, reference_model=lite_model, threads=())
    assert ev.top1_agreement >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_onnx_from_other_backends(backend, lite_ckpt, lite_model, photos, work_dir):
    out = work_dir / f"from_{backend}.onnx"
    export_from(backend, lite_ckpt, out, kind="onnx")
    got = tflite.run_onnx(out, photos[:8].astype(np.float32))
    assert np.max(np.abs(got - reference_outputs(lite_model, photos[:8].astype(np.float32)))) \
        <= 1e-4


@pytest.mark.slow
def test_worker_failure_is_reported(tmp_path):
    """A model the TensorFlow process cannot rebuild (an unregistered custom layer): a
    RuntimeError naming the subprocess, and no file."""
    script = r"""
import sys, keras
from keras_rexnet import tflite
class Twice(keras.layers.Layer):
    def call(self, x):
        return 2 * x
inp = keras.Input((32, 32, 3))
x = keras.layers.GlobalAveragePooling2D()(Twice()(inp))
model = keras.Model(inp, keras.layers.Dense(10, activation="softmax")(x))
try:
    tflite.export_tflite(model, sys.argv[1], labels=None)
except RuntimeError as e:
    print("RUNTIME", "TensorFlow subprocess" in str(e))
"""
    out = tmp_path / "m.tflite"
    env = dict(os.environ, KERAS_BACKEND="jax")
    proc = subprocess.run([sys.executable, "-c", script, str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert "RUNTIME True" in proc.stdout, proc.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []
