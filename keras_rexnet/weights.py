"""Resolving a builder's ``weights`` argument."""

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


def load_saved_model_weights(model, spec, path, include_top=True, classes=1000,
                             include_preprocessing=True, label=None):
    """Load a ``.weights.h5`` saved from ``build_from_spec(spec, include_top=include_top,
    classes=classes, include_preprocessing=include_preprocessing)`` into ``model`` (the same
    spec, with or without the classifier and preprocessing): the file goes into a twin of the
    saved model, and every weighted layer of ``model`` is copied from it.

    Raises :class:`CheckpointError` naming ``label`` (default: the path) when ``model`` has a
    layer the saved model lacks or of other shapes; a damaged file raises what Keras raises.
    """
    import keras

    from keras_rexnet.model import build_from_spec

    label = label or path
    twin = build_from_spec(spec, weights=None, include_top=include_top, classes=classes,
                           include_preprocessing=include_preprocessing,
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
        values = twin.get_layer(layer.name).get_weights()
        if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            raise CheckpointError(label, f"layer {layer.name!r} has shapes "
                                         f"{[v.shape for v in values]}, the model "
                                         f"{[tuple(w.shape) for w in layer.weights]}")
        layer.set_weights(values)
