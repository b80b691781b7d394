"""keras_rexnet.layers.DepthwiseConv2D: the stock layer's numbers, forward and backward, on
every backend (on JAX it computes shifted sums instead of XLA's grouped convolution)."""

import numpy as np
import pytest

import keras
from keras_rexnet.layers import DepthwiseConv2D


def _pair(kwargs, input_shape, seed=0):
    rng = np.random.default_rng(seed)
    models = []
    for cls in (keras.layers.DepthwiseConv2D, DepthwiseConv2D):
        inp = keras.Input(input_shape)
        models.append(keras.Model(inp, cls(**kwargs, name="dw")(inp)))
    weights = [rng.normal(size=w.shape).astype("float32") for w in models[0].weights]
    for m in models:
        m.set_weights(weights)
    return models


CASES = [
    dict(kernel_size=3, strides=1, padding="same", use_bias=False),
    dict(kernel_size=3, strides=2, padding="valid", use_bias=True),
    dict(kernel_size=5, strides=2, padding="same", use_bias=True),
    dict(kernel_size=(3, 5), strides=(1, 2), padding="same", use_bias=False, activation="relu"),
    dict(kernel_size=3, strides=1, padding="valid", use_bias=True, depth_multiplier=2),
    dict(kernel_size=3, strides=1, padding="same", use_bias=False, dilation_rate=2),
]


@pytest.mark.parametrize("kwargs", CASES, ids=lambda k: "-".join(f"{v}" for v in k.values()))
@pytest.mark.parametrize("size", [(9, 9), (12, 7)])
def test_forward_matches_stock_layer(kwargs, size):
    stock, ours = _pair(kwargs, (*size, 6))
    x = np.random.default_rng(1).normal(size=(2, *size, 6)).astype("float32")
    expected = keras.ops.convert_to_numpy(stock(x))
    got = keras.ops.convert_to_numpy(ours(x))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours.predict_on_batch(x), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kwargs", CASES[:3], ids=["s1-same", "s2-valid", "k5-s2-same"])
def test_training_step_matches_stock_layer(kwargs):
    """One SGD step through each layer gives the same weights: the gradients agree."""
    stock, ours = _pair(kwargs, (10, 11, 4))
    x = np.random.default_rng(2).normal(size=(3, 10, 11, 4)).astype("float32")
    y = np.random.default_rng(3).normal(size=keras.ops.shape(stock(x))).astype("float32")
    before = ours.get_weights()
    for m in (stock, ours):
        m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        m.train_on_batch(x, y)
    for a, b in zip(stock.get_weights(), ours.get_weights()):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
    assert all(np.abs(b - a).max() > 1e-3 for a, b in zip(before, ours.get_weights()))  # moved


def test_saves_as_its_own_class(tmp_path):
    _, ours = _pair(CASES[1], (9, 9, 6))
    ours.save(tmp_path / "dw.keras")
    again = keras.saving.load_model(tmp_path / "dw.keras")
    assert type(again.get_layer("dw")) is DepthwiseConv2D
    x = np.random.default_rng(4).normal(size=(1, 9, 9, 6)).astype("float32")
    np.testing.assert_allclose(again.predict_on_batch(x), ours.predict_on_batch(x), atol=1e-6)
