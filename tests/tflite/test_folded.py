"""fold_batchnorm's copy exports like the original: TFLite and ONNX give its numbers."""

import numpy as np
import pytest

import keras
import keras_rexnet
from helpers import official_state, save_pth
from keras_rexnet import tflite

# TFLite and ONNX exports are proven in the fast stage (test_export, test_onnx); the folded copy of
# ReXNetV1 (SE, 50 s of conversions) in the slow stage.
pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def folded_v1(work_dir):
    """ReXNetV1 1.0 (with SE) from the seeded official checkpoint, folded, logits out."""
    ckpt = save_pth(official_state("rexnetv1_1.0", 1), work_dir / "rexnetv1_1.0_s1.pth")
    model = keras_rexnet.ReXNetV1(1.0, weights=str(ckpt), classifier_activation=None)
    return model, keras_rexnet.fold_batchnorm(model)


def test_folded_exports_to_tflite_and_onnx(folded_v1, work_dir, photos):
    model, folded = folded_v1
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    x = photos[:8].astype(np.float32)
    expected = folded.predict_on_batch(x)
    assert np.abs(expected - model.predict_on_batch(x)).max() <= 1e-4
    path = tflite.export_tflite(folded, work_dir / "folded.tflite")
    assert tflite.check_android(path) == []
    assert np.abs(tflite.run_tflite(path, x) - expected).max() <= 1e-4
    onnx_path = tflite.export_onnx(folded, work_dir / "folded.onnx")
    assert np.abs(tflite.run_onnx(onnx_path, x) - expected).max() <= 1e-4
