"""BatchNorm folding: fewer layers, same numbers, saves and reloads."""

import numpy as np
import pytest

import keras
import keras_rexnet
from helpers import predict


@pytest.mark.parametrize("name,builder", [("rexnetv1_1.0", keras_rexnet.ReXNetV1),
                                          ("rexnet_lite_1.0", keras_rexnet.ReXNetV1Lite)])
def test_fold_batchnorm_matches(name, builder, official_ckpt, tmp_path):
    model = builder(1.0, weights=str(official_ckpt(name)), classifier_activation=None)
    folded = keras_rexnet.fold_batchnorm(model)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and not any(isinstance(layer, keras.layers.BatchNormalization)
                           for layer in folded.layers)
    assert folded.get_layer("block3_dw_conv").use_bias
    x = np.random.default_rng(0).uniform(0, 255, (2, 67, 45, 3)).astype("float32")
    expected = predict(model, x)
    got = predict(folded, x)
    assert np.abs(got - expected).max() <= 1e-4
    path = tmp_path / "folded.keras"
    folded.save(path)
    again = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(predict(again, x), got, rtol=0, atol=1e-6)
    assert set(keras_rexnet.feature_extractor(folded).output) == {"P2", "P3", "P4", "P5"}
