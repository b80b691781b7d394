"""Resolving a builder's ``weights`` argument."""

import os
import pathlib

from keras_rexnet.errors import CheckpointError

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")


def load_into(model, spec, weights, include_top=True, model_name=None):
    """Load ``weights`` (``"imagenet"``, a ``.weights.h5`` or a PyTorch checkpoint path)."""
    if weights == "imagenet":
        from keras_rexnet import pretrained

        return pretrained.load_imagenet(model, spec, model_name, include_top=include_top)
    path = pathlib.Path(os.fspath(weights))
    name = path.name.lower()
    if name.endswith(".weights.h5"):
        if not path.is_file():
            raise CheckpointError(path, "no such file")
        try:
            model.load_weights(path)
        except ValueError as e:
            msg = str(e).strip().splitlines()[0]
            raise CheckpointError(path, f"does not fit {model.name}: {msg}") from None
        return "keras"
    if name.endswith(CHECKPOINT_SUFFIXES):
        from keras_rexnet.converters.convert import load_checkpoint_into

        return load_checkpoint_into(model, spec, path, include_top=include_top,
                                    model_name=model_name)
    raise ValueError(
        f"Unsupported weights file {str(path)!r}: `weights` accepts None, 'imagenet', a Keras "
        f"'.weights.h5' file or a PyTorch checkpoint ({', '.join(CHECKPOINT_SUFFIXES)})")
