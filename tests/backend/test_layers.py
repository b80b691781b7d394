"""keras_rexnet.layers.DepthwiseConv2D: the stock layer's numbers, forward and backward, on
every backend (on JAX it computes shifted sums instead of XLA's grouped convolution), checked
against a NumPy convolution and, wherever the stock layer can compute, against the stock layer.
"""

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


def _numpy_depthwise(x, kernel, bias, kernel_size, strides, padding, dilation_rate=1,
                     activation=None, **_):
    """Direct NumPy depthwise convolution (channels last), Keras "same"/"valid" padding."""
    kh, kw = (kernel_size,) * 2 if isinstance(kernel_size, int) else kernel_size
    sh, sw = (strides,) * 2 if isinstance(strides, int) else strides
    dh, dw = (dilation_rate,) * 2 if isinstance(dilation_rate, int) else dilation_rate
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1  # effective kernel extent
    _, h, w, c = x.shape
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        ph, pw = max((oh - 1) * sh + eh - h, 0), max((ow - 1) * sw + ew - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - eh) // sh + 1, (w - ew) // sw + 1
    mult = kernel.shape[-1]
    out = np.zeros((x.shape[0], oh, ow, c * mult), np.float64)
    for i in range(kh):
        for j in range(kw):
            tap = x[:, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
            # output channel c * mult + m reads input channel c with kernel[..., c, m]
            out += (tap[..., :, None] * kernel[i, j]).reshape(out.shape)
    if bias is not None:
        out += bias
    if activation == "relu":
        out = np.maximum(out, 0)
    return out.astype(np.float32)


def _stock_can_compute(kwargs):
    """TensorFlow's CPU depthwise kernel refuses unequal row and column strides."""
    strides = kwargs["strides"]
    unequal = not isinstance(strides, int) and strides[0] != strides[1]
    return not (unequal and keras.config.backend() == "tensorflow")


@pytest.mark.parametrize("kwargs", CASES, ids=lambda k: "-".join(f"{v}" for v in k.values()))
@pytest.mark.parametrize("size", [(9, 9), (12, 7)])
def test_forward_matches_stock_layer(kwargs, size):
    stock, ours = _pair(kwargs, (*size, 6))
    x = np.random.default_rng(1).normal(size=(2, *size, 6)).astype("float32")
    kernel, *bias = ours.get_weights()
    expected = _numpy_depthwise(x, kernel, bias[0] if bias else None, **kwargs)
    got = keras.ops.convert_to_numpy(ours(x))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours.predict_on_batch(x), expected, rtol=0, atol=1e-5)
    if _stock_can_compute(kwargs):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(stock(x)), expected, rtol=0,
                                   atol=1e-5)


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


@pytest.mark.parametrize("bad", [-1, 1.5, True, "1"])
def test_symmetric_padding_takes_a_non_negative_int(bad):
    with pytest.raises(ValueError, match="symmetric_padding"):
        DepthwiseConv2D(3, padding="valid", symmetric_padding=bad)


def test_symmetric_padding_needs_valid_padding():
    with pytest.raises(ValueError, match="padding='valid'"):
        DepthwiseConv2D(3, padding="same", symmetric_padding=1)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_symmetric_padding_shape_config_and_saving(tmp_path, data_format):
    layer = DepthwiseConv2D(3, strides=2, padding="valid", symmetric_padding=1,
                            data_format=data_format, name="dw")
    shape = (None, 9, 8, 5) if data_format == "channels_last" else (None, 5, 9, 8)
    expected = (None, 5, 4, 5) if data_format == "channels_last" else (None, 5, 5, 4)
    assert layer.compute_output_shape(shape) == expected
    assert layer.compute_output_shape((None, None, None, 5) if data_format == "channels_last"
                                      else (None, 5, None, None))[0] is None
    again = DepthwiseConv2D.from_config(layer.get_config())
    assert again.symmetric_padding == 1
    inp = keras.Input(shape[1:])
    model = keras.Model(inp, layer(inp))
    x = np.random.default_rng(5).normal(size=(2, *shape[1:])).astype("float32")
    assert model.predict_on_batch(x).shape == (2, *expected[1:])
    model.save(tmp_path / "dw.keras")
    loaded = keras.saving.load_model(tmp_path / "dw.keras")
    assert loaded.get_layer("dw").symmetric_padding == 1
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)
