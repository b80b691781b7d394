"""Gradients of the custom layers equal those of the stock layers / plain ops, on each backend.

``keras_rexnet.layers`` computes some layers differently from Keras where that trains faster
(on JAX: 1x1 convolutions as one matrix product, depthwise convolutions as shifted sums). Here
the forward results and the gradients with respect to the input and to every weight are
compared with ``keras.layers.Conv2D`` / ``keras.layers.DepthwiseConv2D`` (same weights) and,
for :class:`PartialShortcut`, with the same sum written as plain ``keras.ops``.
"""

import numpy as np
import pytest

import keras
from keras_rexnet.layers import Conv2D, DepthwiseConv2D, PartialShortcut


def _value_and_grads(fn, weights, inputs):
    """``(fn(weights, inputs), d/dweights, d/dinputs)`` of the scalar ``fn``, as NumPy."""
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        value, (dw, dx) = jax.value_and_grad(fn, argnums=(0, 1))(weights, inputs)
    elif backend == "tensorflow":
        import tensorflow as tf

        weights = [tf.convert_to_tensor(w) for w in weights]
        inputs = [tf.convert_to_tensor(x) for x in inputs]
        with tf.GradientTape() as tape:
            tape.watch(weights + inputs)
            value = fn(weights, inputs)
        dw, dx = tape.gradient(value, (weights, inputs))
    else:
        import torch

        weights = [torch.tensor(w, requires_grad=True) for w in weights]
        inputs = [torch.tensor(x, requires_grad=True) for x in inputs]
        value = fn(weights, inputs)
        value.backward()
        dw, dx = [w.grad for w in weights], [x.grad for x in inputs]
    as_np = keras.ops.convert_to_numpy
    return float(as_np(value)), [as_np(g) for g in dw], [as_np(g) for g in dx]


def _compare(stock, ours, input_shapes, seed=0, atol=1e-4):
    """Same weights in ``stock`` and ``ours``; their outputs and all gradients agree."""
    rng = np.random.default_rng(seed)
    inputs = [rng.normal(size=s).astype("float32") for s in input_shapes]
    arg = [keras.KerasTensor(s) for s in input_shapes]
    arg = arg if len(arg) > 1 else arg[0]
    for layer in (stock, ours):
        layer(arg)  # builds
    weights = [rng.normal(size=w.shape).astype("float32") for w in stock.trainable_weights]
    cotangent = None
    results = []
    for layer in (stock, ours):
        out_shape = layer.compute_output_shape(input_shapes if len(input_shapes) > 1
                                               else input_shapes[0])
        if cotangent is None:  # a random direction, so that every element counts
            cotangent = np.random.default_rng(seed + 1).normal(size=out_shape).astype("float32")

        def fn(w, xs, layer=layer, cotangent=cotangent):
            out, _ = layer.stateless_call(w, [], xs if len(xs) > 1 else xs[0])
            return keras.ops.sum(out * keras.ops.convert_to_tensor(cotangent))

        results.append(_value_and_grads(fn, weights, inputs))
    (v0, dw0, dx0), (v1, dw1, dx1) = results
    assert abs(v1 - v0) <= atol * max(1.0, abs(v0))
    assert len(dw0) == len(dw1) == len(weights) and len(dx0) == len(dx1) == len(inputs)
    for a, b in zip(dw0 + dx0, dw1 + dx1):
        assert a.shape == b.shape
        scale = max(1.0, float(np.abs(a).max()))
        np.testing.assert_allclose(b, a, rtol=0, atol=atol * scale)
        assert np.abs(a).max() > 0  # a gradient that flows


@pytest.mark.parametrize("kwargs", [dict(use_bias=False), dict(use_bias=True, activation="relu6")],
                         ids=["plain", "bias-relu6"])
@pytest.mark.parametrize("spatial", [(7, 5), (1, 1)], ids=["map", "pooled"])
def test_conv1x1_matches_stock(kwargs, spatial):
    stock = keras.layers.Conv2D(6, 1, **kwargs)
    ours = Conv2D(6, 1, **kwargs)
    shape = (3, *spatial, 5)
    if keras.config.backend() == "jax":  # the matrix-product path is the one compared
        assert ours._matmul_applies(keras.KerasTensor(shape))
    _compare(stock, ours, [shape])


def test_conv_kxk_is_the_stock_op():
    stock = keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)
    ours = Conv2D(4, 3, strides=2, padding="same", use_bias=False)
    assert not ours._matmul_applies(keras.KerasTensor((2, 9, 9, 3)))
    _compare(stock, ours, [(2, 9, 9, 3)])


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3, strides=1, padding="same"),
                                    dict(kernel_size=3, strides=2, padding="valid"),
                                    dict(kernel_size=5, strides=2, padding="same",
                                         use_bias=True)],
                         ids=["k3-s1-same", "k3-s2-valid", "k5-s2-same-bias"])
def test_depthwise_matches_stock(kwargs):
    kwargs = {"use_bias": False, **kwargs}
    _compare(keras.layers.DepthwiseConv2D(**kwargs), DepthwiseConv2D(**kwargs), [(2, 11, 11, 6)])


class _PlainShortcut(keras.layers.Layer):
    """``out + pad(x)`` along the channels: the partial shortcut in plain ops."""

    def call(self, inputs):
        out, x = inputs
        extra = out.shape[-1] - x.shape[-1]
        return out + keras.ops.pad(x, ((0, 0), (0, 0), (0, 0), (0, extra)))

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@pytest.mark.parametrize("channels", [(9, 4), (6, 6)], ids=["partial", "full"])
def test_partial_shortcut_matches_plain_ops(channels):
    out_c, in_c = channels
    _compare(_PlainShortcut(), PartialShortcut(), [(2, 5, 5, out_c), (2, 5, 5, in_c)])


def test_builders_use_the_fast_layers():
    """Every 1x1 convolution of a built model is keras_rexnet's Conv2D (whose JAX path the
    tests above compare), every depthwise one keras_rexnet's DepthwiseConv2D."""
    from keras_rexnet import ReXNetV1

    model = ReXNetV1(0.5, input_shape=(32, 32, 3), classes=4)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    ones = [c for c in convs if tuple(c.kernel_size) == (1, 1)]
    assert ones and all(type(c) is Conv2D for c in ones)
    assert all(type(c) is DepthwiseConv2D for c in convs
               if isinstance(c, keras.layers.DepthwiseConv2D))
