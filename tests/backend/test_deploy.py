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


def test_fold_batchnorm_leaves_a_conv_whose_output_is_also_used():
    """A BatchNorm is folded only into a layer it alone consumes: here conv ``c1`` is also a
    model output, so ``b1`` stays; ``b2`` folds. The copy is named ``<name>_folded``."""
    rng = np.random.default_rng(0)
    inp = keras.Input((8, 8, 3))
    c1 = keras.layers.Conv2D(4, 1, name="c1")(inp)
    b1 = keras.layers.BatchNormalization(name="b1")(c1)
    b2 = keras.layers.BatchNormalization(name="b2")(keras.layers.Conv2D(4, 1, name="c2")(b1))
    model = keras.Model(inp, [b2, c1], name="tiny")
    for name in ("b1", "b2"):
        model.get_layer(name).set_weights([rng.uniform(0.5, 2, 4), rng.normal(size=4),
                                           rng.normal(size=4), rng.uniform(0.5, 2, 4)])
    folded = keras_rexnet.fold_batchnorm(model)
    assert folded.name == "tiny_folded"
    assert isinstance(folded.get_layer("b1"), keras.layers.BatchNormalization)
    assert not isinstance(folded.get_layer("b2"), keras.layers.BatchNormalization)
    x = rng.uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    for got, want in zip(folded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
