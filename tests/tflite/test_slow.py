"""Longer export checks (make test-slow): dynamic range, ReXNetV1 int8, logits, int8 of a model
without preprocessing layers."""

import warnings

import numpy as np
import pytest

from keras_rexnet import tflite
from keras_rexnet.tflite.evaluate import reference_outputs

pytestmark = pytest.mark.slow


def test_dynamic_range(exported, lite_model, photos):
    path, caught = exported("dynamic")
    assert not caught, caught
    info = tflite.read_model(path)
    assert info.inputs[0].dtype == info.outputs[0].dtype == "float32"
    assert path.stat().st_size <= 0.3 * exported(None)[0].stat().st_size  # int8 weights
    ev = tflite.evaluate(path, photos, reference_model=lite_model, threads=())
    print(f"\ndynamic: {ev.summary()}")
    assert ev.top1_agreement >= 0.9
    assert tflite.check_android(path) == []


def test_float32_logits_within_1e_4(work_dir, lite_ckpt, photos):
    """Logits (classifier_activation=None) are a stricter comparison than probabilities."""
    import keras_rexnet

    model = keras_rexnet.ReXNetV1Lite(1.0, weights=str(lite_ckpt), classifier_activation=None)
    ref = reference_outputs(model, photos.astype(np.float32))
    assert ref.std() > 1  # logits, not probabilities
    path = tflite.export_tflite(model, work_dir / "lite_logits.tflite")
    assert np.max(np.abs(tflite.run_tflite(path, photos) - ref)) <= 1e-4
    onnx_path = tflite.export_onnx(model, work_dir / "lite_logits.onnx")
    assert np.max(np.abs(tflite.run_onnx(onnx_path, photos.astype(np.float32)) - ref)) <= 1e-4


def test_int8_of_a_model_without_preprocessing(work_dir, lite_ckpt, photos, calibration):
    """include_preprocessing=False and int8: the uint8 input holds pixels, so the exporter puts
    the normalization in the graph (metadata: identity) - never neither, never both."""
    import keras_rexnet

    model = keras_rexnet.ReXNetV1Lite(1.0, weights=str(lite_ckpt), include_preprocessing=False)
    path = tflite.export_tflite(model, work_dir / "noprep_int8.tflite", quantization="int8",
                                representative_data=calibration)
    md = tflite.read_metadata(path)
    assert md["norm_mean"] == [0.0] and md["norm_std"] == [1.0]
    ev = tflite.evaluate(path, photos, reference_model=model, threads=())
    print(f"\nint8 without preprocessing layers: {ev.summary()}")
    assert ev.top1_agreement >= 0.9 and ev.max_abs_diff < 0.25
    assert tflite.check_android(path) == []


def test_rexnetv1_int8(work_dir, photos, calibration):
    """ReXNetV1 (SE + SiLU) converts to a full-integer file, with the warning; the figures are
    recorded (the benchmark compares them with the lite model's)."""
    import keras_rexnet
    from helpers import official_state, save_pth

    ckpt = save_pth(official_state("rexnetv1_1.0", 1), work_dir / "rexnetv1_1.0_s1.pth")
    model = keras_rexnet.ReXNetV1(1.0, weights=str(ckpt))
    with pytest.warns(tflite.QuantizationWarning, match="squeeze-excitation"):
        path = tflite.export_tflite(model, work_dir / "v1_int8.tflite", quantization="int8",
                                    representative_data=calibration)
    info = tflite.read_model(path)
    assert info.inputs[0].dtype == info.outputs[0].dtype == "uint8"
    assert "float32" not in info.tensor_types
    assert tflite.check_android(path) == []
    ev = tflite.evaluate(path, photos, reference_model=model, threads=())
    print(f"\nReXNetV1 1.0 int8: {ev.summary()}")
    # a usable classifier despite SE/SiLU: the float top class stays in the int8 top 5
    assert ev.top5_agreement >= 0.9


def test_float_exports_do_not_warn(exported):
    for q in (None, "float16"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert exported(q)[0].is_file()
