"""ONNX export of the seeded ReXNet-lite 1.0, checked with onnxruntime."""

import numpy as np
import onnxruntime as ort
import pytest

from keras_rexnet import tflite
from keras_rexnet.tflite.evaluate import reference_outputs


@pytest.fixture(scope="module")
def onnx_file(work_dir, lite_model):
    return tflite.export_onnx(lite_model, work_dir / "lite.onnx")


def test_onnx_within_1e_4(onnx_file, lite_model, photos):
    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.name == "image" and inp.shape[-1] == 3 and not isinstance(inp.shape[0], int)
    out = tflite.run_onnx(onnx_file, photos.astype(np.float32))
    ref = reference_outputs(lite_model, photos.astype(np.float32))
    assert out.shape == ref.shape == (len(photos), 1000)
    assert np.max(np.abs(out - ref)) <= 1e-4
    ev = tflite.evaluate_onnx(onnx_file, photos[:8], reference_model=lite_model, threads=(1,),
                              runs=3)
    assert ev.max_abs_diff <= 1e-4 and ev.top1_agreement == 1.0 and ev.latency_ms[1] > 0


def test_onnx_keeps_any_size(onnx_file, lite_model):
    """The model is built for any size; so is the ONNX file (odd, non-square included)."""
    x = tflite.sample_photos(3, size=(161, 250), seed=4).astype(np.float32)
    out = tflite.run_onnx(onnx_file, x)
    assert np.max(np.abs(out - reference_outputs(lite_model, x))) <= 1e-4


def test_onnx_errors(lite_model, tmp_path):
    with pytest.raises(ValueError, match="must end with .onnx"):
        tflite.export_onnx(lite_model, tmp_path / "m.tflite")
    with pytest.raises(ValueError, match="opset"):
        tflite.export_onnx(lite_model, tmp_path / "m.onnx", opset="latest")
    assert list(tmp_path.iterdir()) == []


def test_tf2onnx_patch_is_where_keras_keeps_it():
    """export.patch_tf2onnx is the project's one use of ``keras.src``: Keras' NumPy 2 fix for
    tf2onnx, which its own ONNX export applies. Fails when a Keras release moves or drops it."""
    import numpy

    from keras.src.export import onnx as keras_onnx
    from keras.src.export import tf2onnx_lib
    from keras_rexnet.tflite.export import patch_tf2onnx

    assert patch_tf2onnx() is True
    assert keras_onnx.patch_tf2onnx is tf2onnx_lib.patch_tf2onnx  # what model.export applies
    assert numpy.object is object  # what tf2onnx needs of it (gone from NumPy 2)
