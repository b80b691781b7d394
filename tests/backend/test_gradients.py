"""Gradients of the custom layers equal those of the stock layers / plain ops, on each backend.

``keras_rexnet.layers`` computes some layers differently from Keras where that trains faster
(on JAX: 1x1 convolutions as one matrix product, depthwise convolutions as shifted sums; on
torch: convolutions on a view of the inputs, BatchNormalization as torch's fused kernel; on
TensorFlow: BatchNormalization as its fused kernel). Here the forward results, the gradients
with respect to the input and to every weight, and BatchNormalization's moving statistics are
compared with ``keras.layers.Conv2D`` / ``DepthwiseConv2D`` / ``BatchNormalization`` (same
weights) and, for :class:`PartialShortcut`, with the same sum written as plain ``keras.ops``.
"""

import contextlib
import inspect

import numpy as np
import pytest

import keras
from keras_rexnet.layers import (Activation, BatchNormalization, Conv2D, DepthwiseConv2D,
                                 PartialShortcut)


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


def _compare(stock, ours, input_shapes, seed=0, atol=1e-4, training=None):
    """Same weights in ``stock`` and ``ours``; their outputs and all gradients agree, and so
    do the non-trainable weights a call updates (``training``: passed to the layers)."""
    rng = np.random.default_rng(seed)
    inputs = [rng.normal(size=s).astype("float32") for s in input_shapes]
    arg = [keras.KerasTensor(s) for s in input_shapes]
    arg = arg if len(arg) > 1 else arg[0]
    for layer in (stock, ours):
        layer(arg)  # builds
    weights = [rng.normal(size=w.shape).astype("float32") for w in stock.trainable_weights]
    fixed = [rng.uniform(0.5, 2.0, size=w.shape).astype("float32")
             for w in stock.non_trainable_weights]  # positive: they may be variances
    cotangent = None
    results, updated = [], []
    for layer in (stock, ours):
        out_shape = layer.compute_output_shape(input_shapes if len(input_shapes) > 1
                                               else input_shapes[0])
        if cotangent is None:  # a random direction, so that every element counts
            cotangent = np.random.default_rng(seed + 1).normal(size=out_shape).astype("float32")
        takes_training = "training" in inspect.signature(layer.call).parameters
        kwargs = {"training": training} if training is not None and takes_training else {}

        def fn(w, xs, layer=layer, cotangent=cotangent, kwargs=kwargs):
            out, _ = layer.stateless_call(w, fixed, xs if len(xs) > 1 else xs[0], **kwargs)
            return keras.ops.sum(out * keras.ops.convert_to_tensor(cotangent))

        results.append(_value_and_grads(fn, weights, inputs))
        tensors = [keras.ops.convert_to_tensor(x) for x in inputs]
        _, new_fixed = layer.stateless_call(weights, fixed,
                                            tensors if len(tensors) > 1 else tensors[0], **kwargs)
        updated.append([keras.ops.convert_to_numpy(v) for v in new_fixed])
    for a, b in zip(*updated):
        np.testing.assert_allclose(b, a, rtol=0, atol=atol)
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


def _shape(data_format, height, width, channels, batch=2):
    if data_format == "channels_first":
        return (batch, channels, height, width)
    return (batch, height, width, channels)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kwargs", [dict(kernel_size=3, strides=2, padding="same"),
                                    dict(kernel_size=2, strides=1, padding="same",
                                         use_bias=True),
                                    dict(kernel_size=3, strides=1, padding="valid",
                                         dilation_rate=2, use_bias=True)],
                         ids=["k3-s2-same", "k2-s1-same-bias", "k3-valid-dilated-bias"])
def test_conv_kxk_matches_stock(kwargs, data_format):
    """kxk convolutions: the stock op on TensorFlow and JAX, PyTorch's on a view on torch
    (asymmetric "same" padding, dilation, bias, channels first)."""
    # 6 filters: no output width equals the channels (keras' TensorFlow bias bug, layers.py)
    kwargs = {"filters": 6, "use_bias": False, "data_format": data_format, **kwargs}
    shape = _shape(data_format, 9, 8, 3)
    assert not Conv2D(**kwargs)._matmul_applies(keras.KerasTensor(shape))
    _compare(keras.layers.Conv2D(**kwargs), Conv2D(**kwargs), [shape])


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3, strides=1, padding="same"),
                                    dict(kernel_size=3, strides=2, padding="valid"),
                                    dict(kernel_size=5, strides=2, padding="same",
                                         use_bias=True)],
                         ids=["k3-s1-same", "k3-s2-valid", "k5-s2-same-bias"])
def test_depthwise_matches_stock(kwargs):
    kwargs = {"use_bias": False, **kwargs}
    _compare(keras.layers.DepthwiseConv2D(**kwargs), DepthwiseConv2D(**kwargs), [(2, 11, 11, 6)])


@pytest.mark.parametrize("training", [None, True], ids=["call", "training"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kernel,size,bias", [(3, (11, 11), False), (3, (8, 10), True),
                                              (5, (9, 6), False)],
                         ids=["k3-odd", "k3-even-bias", "k5"])
def test_depthwise_symmetric_padding_matches_zero_padding(kernel, size, bias, data_format,
                                                          training):
    """``symmetric_padding=p`` (the builders' strided depthwise layers) equals
    ``ZeroPadding2D(p)`` before the stock layer, forward and backward (in training on
    TensorFlow: its depthwise op's own explicit padding)."""
    p = kernel // 2
    common = dict(kernel_size=kernel, strides=2, padding="valid", use_bias=bias,
                  data_format=data_format)
    stock = keras.Sequential([keras.layers.ZeroPadding2D(p, data_format=data_format),
                              keras.layers.DepthwiseConv2D(**common)])
    ours = DepthwiseConv2D(**common, symmetric_padding=p)
    shape = _shape(data_format, *size, 7)  # 7: no output width equals the channels (above)
    if keras.config.backend() == "tensorflow" and data_format == "channels_last":
        assert bool(ours._tf_padded_applies(keras.KerasTensor(shape), training)) == bool(training)
    _compare(stock, ours, [shape], training=training)


@pytest.mark.parametrize("training", [None, True], ids=["call", "training"])
@pytest.mark.parametrize("activation", ["silu", "swish", "relu6", "sigmoid"])
def test_activation_matches_stock(activation, training):
    """Activation: SiLU compiled forward and backward on TensorFlow in training, Keras' own
    otherwise; the same values and gradients."""
    _compare(keras.layers.Activation(activation), Activation(activation), [(3, 6, 5, 8)],
             training=training)


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("shape,axis", [((4, 6, 5, 7), -1), ((4, 7, 6, 5), 1),
                                        ((6, 1, 1, 7), -1), ((8, 7), -1)],
                         ids=["nhwc", "nchw", "pooled", "2d"])
def test_batchnorm_matches_stock(shape, axis, training):
    """BatchNormalization (torch's / TensorFlow's fused kernels there): outputs, gradients and
    the updated moving mean and variance (Keras' momentum, the biased batch variance)."""
    kwargs = dict(axis=axis, momentum=0.9, epsilon=1e-5)
    backend, spec = keras.config.backend(), keras.KerasTensor(shape)
    if backend == "torch":  # the fused path is the one compared
        assert BatchNormalization(**kwargs)._torch_applies(spec, None)
    if backend == "tensorflow":
        assert BatchNormalization(**kwargs)._tf_applies(spec, None) == (len(shape) == 4)
    _compare(keras.layers.BatchNormalization(**kwargs), BatchNormalization(**kwargs), [shape],
             training=training)


@pytest.mark.parametrize("shape,kwargs", [
    ((3, 5, 4, 6), dict(scale=False, center=False)),
    ((1, 1, 1, 6), {}),  # one value per channel: a batch of 1 through the squeeze-excite
], ids=["no-scale-center", "one-value"])
def test_batchnorm_other_cases_match_stock(shape, kwargs):
    """Outputs and moving statistics (here, not in ``_compare``: with one value per channel
    the output is constant and no gradient flows)."""
    kwargs = dict(axis=-1, momentum=0.8, epsilon=1e-3, **kwargs)
    stock, ours = keras.layers.BatchNormalization(**kwargs), BatchNormalization(**kwargs)
    rng = np.random.default_rng(5)
    x = rng.normal(size=shape).astype("float32")
    for layer in (stock, ours):
        layer.build(shape)
    ours.set_weights(stock.get_weights())
    for training in (True, False):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x, training=training)),
                                   keras.ops.convert_to_numpy(stock(x, training=training)),
                                   rtol=0, atol=1e-5)
    for a, b in zip(stock.get_weights(), ours.get_weights()):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)


class _PlainShortcut(keras.layers.Layer):
    """``out + pad(x)`` along the channels: the partial shortcut in plain ops."""

    def call(self, inputs):
        out, x = inputs
        extra = out.shape[-1] - x.shape[-1]
        return out + keras.ops.pad(x, ((0, 0), (0, 0), (0, 0), (0, extra)))

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@pytest.mark.parametrize("training", [None, True], ids=["call", "training"])
@pytest.mark.parametrize("channels", [(9, 4), (6, 6)], ids=["partial", "full"])
def test_partial_shortcut_matches_plain_ops(channels, training):
    """(in training on TensorFlow the layer itself adds a padded input: compared too)"""
    out_c, in_c = channels
    _compare(_PlainShortcut(), PartialShortcut(), [(2, 5, 5, out_c), (2, 5, 5, in_c)],
             training=training)


def test_builders_use_the_fast_layers():
    """Every convolution of a built model is keras_rexnet's Conv2D or DepthwiseConv2D, every
    BatchNormalization keras_rexnet's (whose fast paths the tests above compare)."""
    from keras_rexnet import ReXNetV1

    model = ReXNetV1(0.5, input_shape=(32, 32, 3), classes=4)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    ones = [c for c in convs if tuple(c.kernel_size) == (1, 1)]
    assert ones and all(type(c) in (Conv2D, DepthwiseConv2D) for c in convs)
    assert all(type(c) is DepthwiseConv2D for c in convs
               if isinstance(c, keras.layers.DepthwiseConv2D))
    acts = [layer for layer in model.layers if isinstance(layer, keras.layers.Activation)]
    assert acts and all(type(a) is Activation for a in acts)
    bns = [layer for layer in model.layers
           if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(type(b) is BatchNormalization for b in bns)
    # no ZeroPadding2D before the strided depthwise layers: they pad themselves
    assert [layer.symmetric_padding for layer in model.layers
            if isinstance(layer, DepthwiseConv2D) and layer.strides != (1, 1)] == [1] * 4


# On JAX the stock ops include XLA's grouped convolution, which takes minutes here to compile
# and run this model: there the comparison is in the slow stage.
@pytest.mark.parametrize("width", [pytest.param(
    0.5, marks=[pytest.mark.slow] if keras.config.backend() == "jax" else [])])
def test_training_step_equals_the_stock_ops_step(width):
    """A whole model: one SGD step with the fast paths gives the loss, weights and moving
    statistics of the same step computed with Keras' own ops (``stock_ops``), and then the
    same predictions.

    One step from the same weights: a second step would compare how two runs diverge, and a
    ReXNet this small (some channels dead after ReLU6, BatchNorm dividing by sqrt(eps))
    magnifies rounding-level differences in its weights about 1e5-fold in one step, stock
    against stock as much (seen on torch: 1e-7 relative noise in the weights, 12% apart in a
    kernel's second update)."""
    from keras_rexnet import ReXNetV1
    from keras_rexnet.layers import stock_ops

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, 64, 64, 3)).astype("float32")
    y = rng.integers(0, 5, 8)
    results = []
    for stock in (False, True):
        keras.utils.set_random_seed(1)
        model = ReXNetV1(width, input_shape=(64, 64, 3), classes=5, dropout_rate=0.0)
        before = model.get_weights()
        model.compile(optimizer=keras.optimizers.SGD(0.01),
                      loss="sparse_categorical_crossentropy", jit_compile=False)
        with stock_ops() if stock else contextlib.nullcontext():
            loss = float(model.train_on_batch(x, y))
            predictions = keras.ops.convert_to_numpy(model(x[:2], training=False))
        results.append((loss, model.get_weights(), predictions))
    (l0, w0, p0), (l1, w1, p1) = results
    assert abs(l0 - l1) <= 1e-4 * max(1.0, abs(l0))
    for a, b, start in zip(w0, w1, before):
        step = float(np.abs(a - start).max())
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6 + 1e-4 * step)
    assert max(float(np.abs(a - s).max()) for a, s in zip(w0, before)) > 1e-3  # it trained
    np.testing.assert_allclose(p1, p0, rtol=0, atol=1e-4)
