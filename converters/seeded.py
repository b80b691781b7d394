"""Seeded checkpoints in any layout, without the real weights.

The same recipe as the shared reference's ``materialize.py`` (the tests prove the two
agree key for key and value for value), but driven by the architecture spec, so any
configuration and layout can be made: for demos, tests and benchmarks where the
published files cannot be downloaded.

Recipe (``numpy.random.default_rng(seed)``, keys in checkpoint order): conv weights
``standard_normal * sqrt(2 / fan_in)``; ``running_var`` uniform(0.5, 2); ``running_mean``
normal(0, 0.1); other ``.weight`` (BN gamma) uniform(0.5, 1.5); everything else normal(0, 0.1).
"""

import numpy as np

from keras_rexnet.converters.layouts import table


def seeded_state(spec, layout, seed=1, classes=1000):
    """``{key: float32 array}`` for ``spec`` in ``layout`` (num_batches_tracked omitted)."""
    rng = np.random.default_rng(seed)
    out = {}
    for entry in table(spec, layout, classes):
        for key, shape in entry.tensors():
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
            out[key] = np.asarray(value, dtype=np.float32)
    return out


def save_checkpoint(state, path):
    """Write a state dict as ``.pth`` (torch) or ``.safetensors``; returns the path."""
    import pathlib

    path = pathlib.Path(path)
    if path.suffix == ".safetensors":
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(path))
    else:
        import torch

        torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
                   str(path))
    return path
