"""ReXNet's custom layers; everything else is a stock ``keras.layers`` layer.

* :class:`PartialShortcut`: the partial-channel residual the architecture needs.
* :class:`DepthwiseConv2D`: ``keras.layers.DepthwiseConv2D`` with the same weights and
  numbers, computed on JAX as a sum of shifted products (XLA's CPU grouped convolution is
  tens of times slower than that; measured in ``benchmarks/speed.py``), on torch by PyTorch's
  convolution on a view of the input; ``symmetric_padding`` pads as PyTorch does.
* :class:`Conv2D`: ``keras.layers.Conv2D`` with a bias that is right in channels first on
  TensorFlow whatever the shape; a 1x1 convolution is a matrix product on JAX; on torch, no
  layout copies.
* :class:`BatchNormalization`: ``keras.layers.BatchNormalization`` as the fused kernel of
  torch and TensorFlow.
* :class:`DropPath`: stochastic depth on the residual branches (``drop_path_rate``), only in
  models built with a rate above 0.
"""

import contextlib

import keras
from keras import ops

_STOCK = False


@contextlib.contextmanager
def stock_ops():
    """Within this context the layers here compute with Keras' own ops, as the stock layers
    do, on every backend: no fused BatchNormalization, no torch convolution on views, no
    compiled SiLU, no JAX matrix products or shifted sums (except where a stock op cannot
    compute: unequal depthwise strides on TensorFlow). The same numbers, slower; for
    comparisons and benchmarks (``benchmarks/profile_train.py``). Layers traced inside a
    compiled function keep what they were traced with."""
    global _STOCK
    saved, _STOCK = _STOCK, True
    try:
        yield
    finally:
        _STOCK = saved


def _fast():
    return not _STOCK


@keras.saving.register_keras_serializable(package="keras_rexnet")
class PartialShortcut(keras.layers.Layer):
    """ReXNet's partial residual: ``out[:c] += x`` along the channel axis, ``c = x.channels``.

    The official model adds the block input to the first ``in_channels`` output
    channels only; the remaining ``out - in`` channels pass unchanged. Called as
    ``PartialShortcut()([block_output, block_input])``. ``data_format``: where the channels
    are (``"channels_last"`` or ``"channels_first"``; default: ``keras.config.image_data_format()``).
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = data_format or keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"`data_format` must be 'channels_last' or 'channels_first', got "
                             f"{data_format!r}")
        self.data_format = data_format

    @property
    def _axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}

    @classmethod
    def from_config(cls, config):
        # Files saved before the layer had a data_format were channels last.
        return cls(**{"data_format": "channels_last", **config})

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def build(self, input_shape):
        out_shape, in_shape = input_shape
        c_out, c_in = out_shape[self._axis], in_shape[self._axis]
        if c_out is not None and c_in is not None and c_in > c_out:
            raise ValueError(
                f"PartialShortcut needs in_channels <= out_channels, got {c_in} > {c_out}")

    def call(self, inputs, training=None):
        out, x = inputs
        axis = self._axis
        c_in = ops.shape(x)[axis]
        extra = ops.shape(out)[axis] - c_in
        if isinstance(extra, int) and extra == 0:
            return out + x
        if training and _fast() and keras.config.backend() == "tensorflow" \
                and isinstance(extra, int):
            # the same sums as out + pad(x): one Pad and one add, whose gradients are a
            # slice and the identity, where slicing and concatenating take two
            # StridedSliceGrad (each a zero-filled copy) on TensorFlow. Training only: the
            # inference graph, which the TFLite files come from, stays as it is.
            pads = [[0, 0]] * len(out.shape)
            pads[axis] = [0, extra]
            return out + ops.pad(x, pads)
        if axis == -1:
            head, tail = out[..., :c_in], out[..., c_in:]
        else:
            head, tail = out[:, :c_in], out[:, c_in:]
        return ops.concatenate([head + x, tail], axis=axis)


def _bias_and_activation(layer, outputs):
    """``layer``'s bias (per channel, channels first) and activation applied to ``outputs``.

    Not ``ops.add``: Keras' TensorFlow ``add`` reads a ``(1, C, 1, 1)`` bias as NHWC's when the
    width equals the channels (``tf.nn.bias_add`` picks the format by shape), which adds the
    bias along the width; keras' own Conv2D/DepthwiseConv2D (keras 3.15) hit that in
    channels first.
    """
    bias = ops.reshape(ops.cast(layer.bias, outputs.dtype), (1, -1, 1, 1))
    outputs = outputs + bias  # the backend's own broadcasting add
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return outputs


@keras.saving.register_keras_serializable(package="keras_rexnet")
class Conv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` (same config, weights and results) whose bias is right in
    channels first on TensorFlow for any shape (see :func:`_bias_and_activation`). The
    builders use it for every convolution, :func:`keras_rexnet.fold_batchnorm` for
    channels-first convolutions with a bias. The stock convolution op runs, except:

    * on JAX a channels-last 1x1 stride-1 convolution runs as one matrix product of the
      ``(pixels, channels)`` view, which XLA's CPU backend computes forward and backward
      several times faster than its convolution (the same numbers within float rounding;
      ``benchmarks/profile_train.py``);
    * on torch PyTorch's convolution runs on a view of the input (:func:`_torch_conv`)."""

    def _matmul_applies(self, inputs):
        return (_fast() and keras.config.backend() == "jax"
                and self.data_format == "channels_last"
                and tuple(self.kernel_size) == (1, 1) and tuple(self.strides) == (1, 1)
                and tuple(self.dilation_rate) == (1, 1) and self.groups == 1
                and isinstance(inputs.shape[-1], int))

    def call(self, inputs):
        if _torch_conv_applies(self, inputs):
            return _torch_conv(self, inputs, self.kernel, self.groups)
        if self._matmul_applies(inputs):
            shape = ops.shape(inputs)
            outputs = ops.matmul(ops.reshape(inputs, (-1, shape[-1])), self.kernel[0, 0])
            outputs = ops.reshape(outputs, (*shape[:-1], self.filters))
            if self.use_bias:
                outputs = outputs + self.bias
            if self.activation is not None:
                outputs = self.activation(outputs)
            return outputs
        if not (self.use_bias and self.data_format == "channels_first"):
            return super().call(inputs)
        return _bias_and_activation(self, self.convolution_op(inputs, self.kernel))


def _torch_conv_applies(layer, inputs):
    """Whether ``layer`` (a 2D convolution) runs through :func:`_torch_conv` here."""
    return _fast() and keras.config.backend() == "torch"


def _torch_conv(layer, inputs, kernel, groups):
    """``layer``'s 2D convolution, bias and activation with ``torch.nn.functional.conv2d``
    on a view of the inputs: no layout copies.

    ``kernel``: Keras' ``(kh, kw, in / groups, out)``. Keras 3.15's torch ``conv`` copies a
    channels-last input to channels first and back to torch's channels-last memory format
    before every convolution (keras-team/keras#23279, fixed after 3.15 by #23199); the
    NHWC tensor viewed as NCHW already is in that format, which PyTorch's CPU kernels
    compute directly. Same kernels as Keras' own path, so the same numbers.
    """
    import torch

    last = layer.data_format == "channels_last"
    x = ops.convert_to_tensor(inputs)
    x = x.permute(0, 3, 1, 2) if last else x
    padding = getattr(layer, "symmetric_padding", None) or 0
    if layer.padding == "same":
        height, width = x.shape[2:]
        dilated = [d * (k - 1) + 1 for d, k in zip(layer.dilation_rate, layer.kernel_size)]
        pads = [_same_pads(n, k, s) for n, k, s in zip((height, width), dilated, layer.strides)]
        if all(before == after for before, after in pads):
            padding = (pads[0][0], pads[1][0])
        else:
            x = torch.nn.functional.pad(x, (*pads[1], *pads[0]))
    weight = ops.cast(kernel, x.dtype).permute(3, 2, 0, 1)  # (out, in / groups, kh, kw)
    bias = ops.cast(layer.bias, x.dtype) if layer.use_bias else None
    outputs = torch.nn.functional.conv2d(x, weight, bias, stride=tuple(layer.strides),
                                         padding=padding, dilation=tuple(layer.dilation_rate),
                                         groups=groups)
    if last:
        outputs = outputs.permute(0, 2, 3, 1)
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return outputs


def _same_pads(size, kernel, stride):
    """TensorFlow/Keras "same" padding (before, after) of one spatial axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@keras.saving.register_keras_serializable(package="keras_rexnet")
class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """``keras.layers.DepthwiseConv2D`` (same config, weights and results) that is fast on JAX.

    XLA lowers a grouped convolution on CPU to a slow generic loop; written as
    ``sum_ij shift_ij(x) * kernel[i, j]`` it becomes one fused elementwise loop. On the
    other backends (and for dilation or ``depth_multiplier > 1``) the stock op runs, so a
    model exported from TensorFlow still holds a real depthwise convolution; the one
    exception is TensorFlow with unequal row/column strides, which its CPU kernel refuses
    and the shifted sums compute. On torch it calls PyTorch's convolution on a view of the
    inputs (:func:`_torch_conv`).

    ``symmetric_padding``: an int ``p`` (with ``padding="valid"``) pads ``p`` zeros on every
    side of both spatial axes first, PyTorch's ``padding=p``; the builders' strided layers
    use it (``p = k // 2``). Equal to a ``ZeroPadding2D(p)`` before the layer, but on torch
    the convolution pads as it reads instead of writing a padded copy of its input.
    """

    def __init__(self, *args, symmetric_padding=None, **kwargs):
        super().__init__(*args, **kwargs)
        if symmetric_padding is not None:
            if isinstance(symmetric_padding, bool) or not isinstance(symmetric_padding, int) \
                    or symmetric_padding < 0:
                raise ValueError(f"`symmetric_padding` must be an int >= 0 or None, got "
                                 f"{symmetric_padding!r}")
            if self.padding != "valid":
                raise ValueError(f"`symmetric_padding` needs padding='valid', got "
                                 f"padding={self.padding!r}")
        self.symmetric_padding = symmetric_padding

    def get_config(self):
        return {**super().get_config(), "symmetric_padding": self.symmetric_padding}

    def _padded_shape(self, shape):
        p = self.symmetric_padding
        if not p:
            return tuple(shape)
        spatial = (2, 3) if self.data_format == "channels_first" else (1, 2)
        return tuple(d + 2 * p if a in spatial and d is not None else d
                     for a, d in enumerate(shape))

    def compute_output_shape(self, input_shape):
        return super().compute_output_shape(self._padded_shape(input_shape))

    def _shifted_sum_applies(self, inputs):
        # JAX: always (XLA's CPU grouped convolution is slow). TensorFlow: only for unequal
        # row/column strides, which its CPU depthwise kernel refuses to compute.
        backend = keras.config.backend()
        strides = tuple(self.strides)
        wanted = (backend == "jax" and _fast()) or (backend == "tensorflow"
                                                    and strides[0] != strides[1])
        h_axis = 1 if self.data_format == "channels_last" else 2
        return (wanted and self.depth_multiplier == 1 and tuple(self.dilation_rate) == (1, 1)
                and isinstance(inputs.shape[h_axis], int)
                and isinstance(inputs.shape[h_axis + 1], int))

    def _tf_padded_applies(self, inputs, training):
        # TensorFlow pads inside its depthwise kernel (explicit padding) instead of writing a
        # padded copy, and its gradient skips the slice back. Training only: the inference
        # graph, which the TFLite files come from, keeps the Pad op the converter knows.
        return (training and _fast() and self.symmetric_padding
                and keras.config.backend() == "tensorflow"
                and self.data_format == "channels_last" and self.depth_multiplier == 1
                and tuple(self.dilation_rate) == (1, 1) and self.strides[0] == self.strides[1])

    def call(self, inputs, training=None):
        if _torch_conv_applies(self, inputs):
            kh, kw, channels, multiplier = self.kernel.shape
            kernel = ops.reshape(self.kernel, (kh, kw, 1, channels * multiplier))
            return _torch_conv(self, inputs, kernel, channels)
        if self._tf_padded_applies(inputs, training):
            import tensorflow as tf

            p = self.symmetric_padding
            outputs = tf.nn.depthwise_conv2d(
                inputs, ops.cast(self.kernel, inputs.dtype), strides=(1, *self.strides, 1),
                padding=[[0, 0], [p, p], [p, p], [0, 0]])
            if self.use_bias:
                outputs = outputs + ops.cast(self.bias, outputs.dtype)
            return outputs if self.activation is None else self.activation(outputs)
        if self.symmetric_padding:
            p = self.symmetric_padding
            pads = ((0, 0), (0, 0), (p, p), (p, p)) if self.data_format == "channels_first" \
                else ((0, 0), (p, p), (p, p), (0, 0))
            inputs = ops.pad(inputs, pads)
        if not self._shifted_sum_applies(inputs):
            if self.use_bias and self.data_format == "channels_first":
                outputs = ops.depthwise_conv(inputs, self.kernel, strides=self.strides,
                                             padding=self.padding,
                                             dilation_rate=self.dilation_rate,
                                             data_format=self.data_format)
                return _bias_and_activation(self, outputs)
            return super().call(inputs)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        first = self.data_format == "channels_first"
        height, width = (inputs.shape[2], inputs.shape[3]) if first else inputs.shape[1:3]
        if self.padding == "same":
            pads = (_same_pads(height, kh, sh), _same_pads(width, kw, sw))
            inputs = ops.pad(inputs, ((0, 0), (0, 0), *pads) if first
                             else ((0, 0), *pads, (0, 0)))
            height, width = height + sum(pads[0]), width + sum(pads[1])
        out_h, out_w = (height - kh) // sh + 1, (width - kw) // sw + 1
        kernel = ops.cast(self.kernel[:, :, :, 0], inputs.dtype)  # (kh, kw, C)
        if first:  # per-channel taps broadcast over (C, H, W)
            kernel = ops.reshape(kernel, (kh, kw, -1, 1, 1))
        outputs = None
        for i in range(kh):
            for j in range(kw):
                rows = slice(i, i + sh * (out_h - 1) + 1, sh)
                cols = slice(j, j + sw * (out_w - 1) + 1, sw)
                tap = inputs[:, :, rows, cols] if first else inputs[:, rows, cols, :]
                term = tap * kernel[i, j]
                outputs = term if outputs is None else outputs + term
        if self.use_bias:
            bias = ops.cast(self.bias, outputs.dtype)
            outputs = outputs + (ops.reshape(bias, (-1, 1, 1)) if first else bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="keras_rexnet")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` (same config, weights, numbers and moving-statistics
    updates) that runs as the fused kernel of torch and TensorFlow.

    Keras' layer computes the moments and the normalization as a dozen separate tensor ops,
    forward and backward, where ``torch.native_batch_norm`` and TensorFlow's
    ``FusedBatchNormV3`` do one pass each way (Keras' ops took about a third of a training
    step of ReXNet on torch; ``benchmarks/profile_train.py``). The moving statistics are
    updated as Keras does (``momentum`` weighs the old value, the batch variance is the
    biased one). JAX (where XLA fuses Keras' ops), masks, ``renorm`` and, on TensorFlow,
    ``synchronized`` and inputs other than 4-D run Keras' own.
    """

    def _torch_applies(self, inputs, mask):
        return (_fast() and keras.config.backend() == "torch" and mask is None
                and not self.renorm and len(inputs.shape) >= 2)

    def _tf_applies(self, inputs, mask):
        return (_fast() and keras.config.backend() == "tensorflow" and mask is None
                and not self.renorm and not self.synchronized and len(inputs.shape) == 4
                and self.axis % 4 in (1, 3))

    def _update_moving_statistics(self, mean, variance):
        """Keras' update: ``momentum`` weighs the old value (``variance``: the biased one)."""
        keep = self.momentum
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moving.assign(ops.cast(moving, batch.dtype) * keep + batch * (1.0 - keep))

    def _tf_call(self, inputs, training):
        import tensorflow as tf

        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        channels = x.shape[self.axis]
        gamma = ops.cast(self.gamma, x.dtype) if self.scale else tf.ones((channels,), x.dtype)
        beta = ops.cast(self.beta, x.dtype) if self.center else tf.zeros((channels,), x.dtype)
        fmt = "NHWC" if self.axis % 4 == 3 else "NCHW"
        if training and self.trainable:
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, epsilon=self.epsilon, data_format=fmt, is_training=True)
            # TensorFlow returns the Bessel-corrected variance; Keras averages the biased one
            shape = tf.shape(x)
            n = tf.cast(tf.reduce_prod(shape) // channels, x.dtype)
            self._update_moving_statistics(mean, variance * (n - 1.0) / n)
        else:
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, mean=ops.cast(self.moving_mean, x.dtype),
                variance=ops.cast(self.moving_variance, x.dtype), epsilon=self.epsilon,
                data_format=fmt, is_training=False)
        return ops.cast(outputs, self.compute_dtype)

    def call(self, inputs, training=None, mask=None):
        if self._tf_applies(inputs, mask):
            return self._tf_call(inputs, training)
        if not self._torch_applies(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import torch

        rank = len(inputs.shape)
        axis = self.axis % rank
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        order = None
        if axis != 1:  # a view with the channels second: no copy
            order = (0, axis, *(a for a in range(1, rank) if a != axis))
            x = x.permute(order)
        gamma = ops.cast(self.gamma, x.dtype) if self.scale else None
        beta = ops.cast(self.beta, x.dtype) if self.center else None
        if training and self.trainable:
            outputs, mean, invstd = torch.native_batch_norm(
                x, gamma, beta, None, None, True, 0.0, self.epsilon)
            with torch.no_grad():  # the biased variance, as ops.moments
                self._update_moving_statistics(mean, invstd.pow(-2) - self.epsilon)
        else:
            outputs = torch.nn.functional.batch_norm(
                x, ops.cast(self.moving_mean, x.dtype), ops.cast(self.moving_variance, x.dtype),
                gamma, beta, False, 0.0, self.epsilon)
        if order is not None:
            outputs = outputs.permute(tuple(order.index(a) for a in range(rank)))
        return ops.cast(outputs, self.compute_dtype)


_TF_SILU = None


def _tf_silu():
    """``x * sigmoid(x)`` on TensorFlow whose forward and backward are each one XLA kernel.

    TensorFlow's own ``tf.nn.silu`` runs its gradient as six separate elementwise ops (the
    sigmoid recomputed), each a pass over the tensor; compiled, each direction is one pass.
    """
    global _TF_SILU
    if _TF_SILU is None:
        import tensorflow as tf

        forward = tf.function(jit_compile=True, autograph=False)(lambda x: x * tf.sigmoid(x))

        @tf.function(jit_compile=True, autograph=False)
        def backward(x, dy):
            s = tf.sigmoid(x)
            return dy * s * (1 + x * (1 - s))

        @tf.custom_gradient
        def silu(x):
            return forward(x), lambda dy: backward(x, dy)

        _TF_SILU = silu
    return _TF_SILU


@keras.saving.register_keras_serializable(package="keras_rexnet")
class Activation(keras.layers.Activation):
    """``keras.layers.Activation`` (same config and numbers); on TensorFlow in training, SiLU
    (swish) runs forward and backward as one compiled kernel each (:func:`_tf_silu`). At
    inference, and so in the TFLite files, it is Keras' own."""

    def call(self, inputs, training=None):
        if training and _fast() and self.activation is keras.activations.silu \
                and keras.config.backend() == "tensorflow":
            return _tf_silu()(inputs)
        return super().call(inputs)


@keras.saving.register_keras_serializable(package="keras_rexnet")
class DropPath(keras.layers.Layer):
    """Stochastic depth: drops a residual branch for whole samples (timm's ``DropPath``).

    In training each sample's input is zeroed with probability ``rate`` and otherwise scaled
    by ``1 / (1 - rate)``; at inference it is the identity. The builders put it on a block's
    output before the :class:`PartialShortcut` add (``drop_path_rate``), as timm's ReXNet
    does. The random state is a ``keras.random.SeedGenerator`` owned by the layer, so it is a
    layer variable (updated under ``jax.jit``); it holds no weights.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"DropPath `rate` must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        noise_shape = (None,) + (1,) * (len(inputs.shape) - 1)  # one draw per sample
        return keras.random.dropout(inputs, self.rate, noise_shape=noise_shape,
                                    seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
