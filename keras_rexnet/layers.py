"""ReXNet's custom layers; everything else is a stock ``keras.layers`` layer.

* :class:`PartialShortcut`: the partial-channel residual the architecture needs.
* :class:`DepthwiseConv2D`: ``keras.layers.DepthwiseConv2D`` with the same weights and
  numbers, computed on JAX as a sum of shifted products (XLA's CPU grouped convolution is
  tens of times slower than that; measured in ``benchmarks/speed.py``).
* :class:`Conv2D`: ``keras.layers.Conv2D`` with a bias that is right in channels first on
  TensorFlow whatever the shape (used for channels-first convolutions with a bias only).
* :class:`DropPath`: stochastic depth on the residual branches (``drop_path_rate``), only in
  models built with a rate above 0.
"""

import keras
from keras import ops


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

    def call(self, inputs):
        out, x = inputs
        axis = self._axis
        c_in = ops.shape(x)[axis]
        extra = ops.shape(out)[axis] - c_in
        if isinstance(extra, int) and extra == 0:
            return out + x
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
    builders and :func:`keras_rexnet.fold_batchnorm` use it for channels-first convolutions
    with a bias; there and elsewhere the stock convolution op runs, except:

    the builders also use it for every 1x1 convolution, and on JAX a channels-last 1x1 stride-1
    convolution runs as one matrix product of the ``(pixels, channels)`` view, which XLA's CPU
    backend computes forward and backward several times faster than its convolution (the
    same numbers within float rounding; ``benchmarks/profile_train.py``)."""

    def _matmul_applies(self, inputs):
        return (keras.config.backend() == "jax" and self.data_format == "channels_last"
                and tuple(self.kernel_size) == (1, 1) and tuple(self.strides) == (1, 1)
                and tuple(self.dilation_rate) == (1, 1) and self.groups == 1
                and isinstance(inputs.shape[-1], int))

    def call(self, inputs):
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
    and the shifted sums compute.
    """

    def _shifted_sum_applies(self, inputs):
        # JAX: always (XLA's CPU grouped convolution is slow). TensorFlow: only for unequal
        # row/column strides, which its CPU depthwise kernel refuses to compute.
        backend = keras.config.backend()
        strides = tuple(self.strides)
        wanted = backend == "jax" or (backend == "tensorflow" and strides[0] != strides[1])
        h_axis = 1 if self.data_format == "channels_last" else 2
        return (wanted and self.depth_multiplier == 1 and tuple(self.dilation_rate) == (1, 1)
                and isinstance(inputs.shape[h_axis], int)
                and isinstance(inputs.shape[h_axis + 1], int))

    def call(self, inputs):
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
