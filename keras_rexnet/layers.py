"""The one custom layer ReXNet needs; everything else is a stock ``keras.layers`` layer."""

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
