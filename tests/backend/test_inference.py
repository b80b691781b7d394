"""keras_rexnet.inference_function: the recommended fast path gives the model's numbers."""

import numpy as np
import pytest

import keras
import keras_rexnet
from helpers import predict


@pytest.mark.parametrize("fold", [True, False])
def test_inference_function_matches_model(official_ckpt, fold):
    model = keras_rexnet.ReXNetV1(1.0, weights=str(official_ckpt("rexnetv1_1.0")),
                                  classifier_activation=None)
    fn = keras_rexnet.inference_function(model, fold=fold)
    for shape in [(1, 224, 224, 3), (3, 67, 45, 3), (1, 224, 224, 3)]:  # a shape again: reused
        x = np.random.default_rng(shape[0]).uniform(0, 255, shape).astype("float32")
        got = fn(x)
        assert isinstance(got, np.ndarray) and got.shape == (shape[0], 1000)
        assert np.abs(got - predict(model, x)).max() <= 1e-4
    assert np.abs(fn(x.astype("float64")) - got).max() <= 1e-6  # inputs cast to the model dtype


def test_inference_function_dict_outputs(official_ckpt):
    model = keras_rexnet.ReXNetV1Lite(1.0, weights=str(official_ckpt("rexnet_lite_1.0")))
    features = keras_rexnet.feature_extractor(model)
    x = np.random.default_rng(0).uniform(0, 255, (2, 96, 64, 3)).astype("float32")
    got = keras_rexnet.inference_function(features)(x)
    expected = features.predict_on_batch(x)
    assert set(got) == {"P2", "P3", "P4", "P5"}
    for level in got:
        assert got[level].shape == expected[level].shape
        np.testing.assert_allclose(got[level], keras.ops.convert_to_numpy(expected[level]),
                                   rtol=1e-4, atol=1e-4)
