"""Resolving a builder's ``weights`` argument, and adapting pretrained weights to a model with
other than 3 input channels (:func:`adapt_input_conv`)."""

import math
import os
import pathlib

from keras_rexnet.errors import CheckpointError
from keras_rexnet.files import CHECKPOINT_SUFFIXES, KERAS_WEIGHTS_SUFFIX, is_checkpoint


def load_into(model, spec, weights, include_top=True, model_name=None):
    """Load ``weights`` (``"imagenet"``, ``"hf://ORG/REPO[/FILE]"``, a ``.weights.h5`` or a
    PyTorch checkpoint path)."""
    if weights == "imagenet":
        from keras_rexnet import pretrained

        return pretrained.load_imagenet(model, spec, model_name, include_top=include_top)
    if isinstance(weights, str) and weights.startswith("hf://"):
        from keras_rexnet import hub

        return hub.load_into(model, spec, weights, include_top=include_top,
                             model_name=model_name)
    path = pathlib.Path(os.fspath(weights))
    name = path.name.lower()
    if name.endswith(KERAS_WEIGHTS_SUFFIX):
        if not path.is_file():
            raise CheckpointError(path, "no such file")
        try:
            model.load_weights(path)
        except ValueError as e:
            msg = str(e).strip().splitlines()[0]
            raise CheckpointError(path, f"does not fit {model.name}: {msg}") from None
        return "keras"
    if is_checkpoint(name):
        from keras_rexnet.converters.convert import load_checkpoint_into

        return load_checkpoint_into(model, spec, path, include_top=include_top,
                                    model_name=model_name)
    raise ValueError(
        f"Unsupported weights file {str(path)!r}: `weights` accepts None, 'imagenet', a Keras "
        f"'{KERAS_WEIGHTS_SUFFIX}' file or a PyTorch checkpoint "
        f"({', '.join(CHECKPOINT_SUFFIXES)})")


def adapt_input_conv(in_chans, kernel, base_chans=3):
    """timm's ``adapt_input_conv`` for a Keras ``Conv2D`` kernel ``(kh, kw, in, out)``: the
    pretrained ``base_chans``-channel kernel made to take ``in_chans`` channels.

    One channel: the sum over the input channels (a grayscale image weighs as R+G+B would).
    Otherwise the channels repeated (R, G, B, R, ...) up to ``in_chans`` and scaled by
    ``base_chans / in_chans``. The same channel count returns the kernel unchanged.
    """
    import numpy as np

    kernel = np.asarray(kernel)
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise ValueError(f"input channels must be a positive integer, got {in_chans!r}")
    if kernel.ndim != 4 or kernel.shape[2] != base_chans:
        raise ValueError(f"expected a (kh, kw, {base_chans}, out) kernel, got {kernel.shape}")
    if in_chans == base_chans:
        return kernel
    dtype = kernel.dtype
    k = kernel.astype(np.float32)
    if in_chans == 1:
        k = k.sum(axis=2, keepdims=True)
    else:
        repeat = math.ceil(in_chans / base_chans)
        k = np.tile(k, (1, 1, repeat, 1))[:, :, :in_chans, :]
        k = k * np.float32(base_chans / float(in_chans))
    return np.ascontiguousarray(k.astype(dtype))


def adapt_stem(layer, values, base_chans=3):
    """``values`` (a ``stem_conv`` layer's weights from a ``base_chans``-channel model) made
    to fit ``layer`` (the same convolution taking another number of channels); other layers'
    values, or values that fit already, are returned as they are."""
    if layer.name != "stem_conv" or not values:
        return values
    want = tuple(layer.weights[0].shape)
    got = tuple(values[0].shape)
    if got == want or len(got) != 4 or got[2] != base_chans or got[:2] + got[3:] != \
            want[:2] + want[3:]:
        return values
    return [adapt_input_conv(want[2], values[0], base_chans)] + list(values[1:])


def load_saved_model_weights(model, spec, path, include_top=True, classes=1000,
                             include_preprocessing=True, label=None, channels=3):
    """Load a ``.weights.h5`` saved from ``build_from_spec(spec, include_top=include_top,
    classes=classes, include_preprocessing=include_preprocessing)`` with ``channels`` input
    channels (either data format: the weights are the same) into ``model`` (the same spec,
    with or without the classifier and preprocessing, any number of input channels: the stem
    is adapted as timm's ``adapt_input_conv``): the file goes into a twin of the saved model,
    and every weighted layer of ``model`` is copied from it.

    Raises :class:`CheckpointError` naming ``label`` (default: the path) when ``model`` has a
    layer the saved model lacks or of other shapes; a damaged file raises what Keras raises.
    """
    import keras

    from keras_rexnet.model import build_from_spec

    label = label or path
    twin = build_from_spec(spec, weights=None, include_top=include_top, classes=classes,
                           include_preprocessing=include_preprocessing,
                           input_shape=(None, None, channels), data_format="channels_last",
                           kernel_initializer="zeros")
    twin.load_weights(path)
    skip = (keras.layers.Normalization, keras.layers.Rescaling)  # constants, not learned
    names = {layer.name for layer in twin.layers}
    for layer in model.layers:
        if not layer.weights or isinstance(layer, skip):
            continue
        if layer.name not in names:
            raise CheckpointError(label, f"has no layer {layer.name!r} for the model "
                                         f"{model.name!r}")
        values = adapt_stem(layer, twin.get_layer(layer.name).get_weights(), channels)
        if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            raise CheckpointError(label, f"layer {layer.name!r} has shapes "
                                         f"{[v.shape for v in values]}, the model "
                                         f"{[tuple(w.shape) for w in layer.weights]}")
        layer.set_weights(values)
