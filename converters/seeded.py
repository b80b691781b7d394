"""Seeded checkpoints in any layout, without the real weights.

The recipe behind the official output vectors in ``tests/data`` (the official code ran on
checkpoints filled this way; the tests hold our models to its outputs, so they check the recipe
too). Driven by the architecture spec, any configuration and layout can be made: for demos, tests
and benchmarks where the published files cannot be downloaded; driven by a manifest (every key,
shape and dtype of an official checkpoint, in order), it gives that checkpoint exactly.

Recipe (``numpy.random.default_rng(seed)``, keys in checkpoint order): ``num_batches_tracked``
an int64 zero (draws nothing); conv weights ``standard_normal * sqrt(2 / fan_in)``;
``running_var`` uniform(0.5, 2); ``running_mean`` normal(0, 0.1); other ``.weight`` (BN gamma)
uniform(0.5, 1.5); a linear layer's weight (timm's ``head.fc``) like a conv; everything else
normal(0, 0.1). Every value is cast to float32 after it is drawn.
"""

import json
import pathlib

import numpy as np

from keras_rexnet.files import SAFETENSORS_SUFFIXES, atomic_path

from keras_rexnet.converters.layouts import table


def _draw(rng, key, shape):
    if len(shape) == 4:
        fan_in = shape[1] * shape[2] * shape[3]
        value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    elif key.endswith("running_var"):
        value = rng.uniform(0.5, 2.0, shape)
    elif key.endswith("running_mean"):
        value = rng.normal(0.0, 0.1, shape)
    elif key.endswith(".weight") and len(shape) == 1:
        value = rng.uniform(0.5, 1.5, shape)
    elif len(shape) == 2:  # a linear layer (timm's head.fc), drawn like a conv
        value = rng.standard_normal(shape) * np.sqrt(2.0 / shape[1])
    else:
        value = rng.normal(0.0, 0.1, shape)
    return np.asarray(value, dtype=np.float32)


def materialize(manifest, seed):
    """``{key: array}`` for a manifest (a dict with ``tensors: [[key, shape, dtype], ...]``, or the
    path of its JSON file), ``num_batches_tracked`` included as int64 zeros."""
    if not isinstance(manifest, dict):
        manifest = json.loads(pathlib.Path(manifest).read_text())
    rng = np.random.default_rng(seed)
    out = {}
    for key, shape, _dtype in manifest["tensors"]:
        shape = tuple(shape)
        if key.endswith("num_batches_tracked"):
            out[key] = np.zeros(shape, dtype=np.int64)
        else:
            out[key] = _draw(rng, key, shape)
    return out


def seeded_state(spec, layout, seed=1, classes=1000):
    """``{key: float32 array}`` for ``spec`` in ``layout`` (num_batches_tracked omitted)."""
    rng = np.random.default_rng(seed)
    return {key: _draw(rng, key, tuple(shape))
            for entry in table(spec, layout, classes) for key, shape in entry.tensors()}


def save_checkpoint(state, path):
    """Write a state dict as ``.pth`` (torch) or ``.safetensors`` (atomically); returns the
    path."""
    path = pathlib.Path(path)
    with atomic_path(path, path.suffix) as tmp:
        if path.suffix.lower() in SAFETENSORS_SUFFIXES:
            from safetensors.numpy import save_file

            save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp))
        else:
            import torch

            torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
                       str(tmp))
    return path
