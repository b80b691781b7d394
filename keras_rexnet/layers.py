"""ReXNet's two custom layers; everything else is a stock ``keras.layers`` layer.

* :class:`PartialShortcut`: the partial-channel residual the architecture needs.
* :class:`DepthwiseConv2D`: ``keras.layers.DepthwiseConv2D`` with the same weights and
  numbers, computed on JAX as a sum of shifted products (XLA's CPU grouped convolution is
  tens of times slower than that; measured in ``benchmarks/speed.py``).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_rexnet")
class PartialShortcut(keras.layers.Layer):
    """ReXNet's partial residual: ``out[..., :c] += x`` where ``c = x.channels``.

    The official model adds the block input to the first ``in_channels`` output
    channels only; the remaining ``out - in`` channels pass unchanged. Called as
    ``PartialShortcut()([block_output, block_input])`` (channels last).
    """

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def build(self, input_shape):
        out_shape, in_shape = input_shape
        if out_shape[-1] is not None and in_shape[-1] is not None and in_shape[-1] > out_shape[-1]:
            raise ValueError(
                f"PartialShortcut needs in_channels <= out_channels, got {in_shape[-1]} > "
                f"{out_shape[-1]}")

    def call(self, inputs):
        out, x = inputs
        extra = ops.shape(out)[-1] - ops.shape(x)[-1]
        if isinstance(extra, int) and extra == 0:
            return out + x
        return ops.concatenate([out[..., : ops.shape(x)[-1]] + x, out[..., ops.shape(x)[-1]:]],
                               axis=-1)


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
        return (wanted and self.data_format == "channels_last"
                and self.depth_multiplier == 1 and tuple(self.dilation_rate) == (1, 1)
                and isinstance(inputs.shape[1], int) and isinstance(inputs.shape[2], int))

    def call(self, inputs):
        if not self._shifted_sum_applies(inputs):
            return super().call(inputs)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        height, width = inputs.shape[1], inputs.shape[2]
        if self.padding == "same":
            pads = (_same_pads(height, kh, sh), _same_pads(width, kw, sw))
            inputs = ops.pad(inputs, ((0, 0), pads[0], pads[1], (0, 0)))
            height, width = height + sum(pads[0]), width + sum(pads[1])
        out_h, out_w = (height - kh) // sh + 1, (width - kw) // sw + 1
        kernel = ops.cast(self.kernel[:, :, :, 0], inputs.dtype)
        outputs = None
        for i in range(kh):
            for j in range(kw):
                tap = inputs[:, i:i + sh * (out_h - 1) + 1:sh, j:j + sw * (out_w - 1) + 1:sw, :]
                term = tap * kernel[i, j]
                outputs = term if outputs is None else outputs + term
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
