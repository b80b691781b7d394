"""Shared test helpers: seeded checkpoints in any layout, built like ../shared's materialize.py."""

import functools
import importlib.util
import os
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("KERAS_REXNET_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"
MANIFESTS = REFERENCE / "manifests"
VECTORS = REFERENCE / "vectors"

# The 11 official configurations: manifest name -> (family, width).
OFFICIAL = {
    "rexnetv1_0.9": ("rexnet_v1", 0.9), "rexnetv1_1.0": ("rexnet_v1", 1.0),
    "rexnetv1_1.3": ("rexnet_v1", 1.3), "rexnetv1_1.5": ("rexnet_v1", 1.5),
    "rexnetv1_2.0": ("rexnet_v1", 2.0), "rexnetv1_2.2": ("rexnet_v1", 2.2),
    "rexnetv1_3.0": ("rexnet_v1", 3.0),
    "rexnet_lite_1.0": ("rexnet_lite", 1.0), "rexnet_lite_1.3": ("rexnet_lite", 1.3),
    "rexnet_lite_1.5": ("rexnet_lite", 1.5), "rexnet_lite_2.0": ("rexnet_lite", 2.0),
}

# ARCHITECTURE.md: trainable parameters of each official configuration.
OFFICIAL_PARAMS = {
    "rexnetv1_0.9": 4_091_257, "rexnetv1_1.0": 4_796_873, "rexnetv1_1.3": 7_557_091,
    "rexnetv1_1.5": 9_728_593, "rexnetv1_2.0": 16_366_620, "rexnetv1_2.2": 19_485_308,
    "rexnetv1_3.0": 34_708_792, "rexnet_lite_1.0": 4_740_056, "rexnet_lite_1.3": 6_747_960,
    "rexnet_lite_1.5": 8_332_296, "rexnet_lite_2.0": 12_966_200,
}


@functools.lru_cache(maxsize=1)
def materialize_module():
    spec = importlib.util.spec_from_file_location("materialize", REFERENCE / "materialize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manifest_for(spec, layout, classes=1000):
    """A manifest (as in ../shared) for any spec and layout, from the converter's key table."""
    from keras_rexnet.converters.layouts import table

    tensors = [[k, list(shape), "float32"] for e in table(spec, layout, classes)
               for k, shape in e.tensors()]
    return {"tensors": tensors}


def seeded_state(spec, layout, seed=1, classes=1000):
    """``{key: float32 array}`` with materialize.py's recipe (random BN statistics included)."""
    state = materialize_module().materialize(manifest_for(spec, layout, classes), seed)
    return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}


def official_state(name, seed=1):
    return materialize_module().materialize(str(MANIFESTS / f"{name}.json"), seed)


def save_pth(state, path):
    import torch

    torch.save({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}, str(path))
    return path


def family_layout(family):
    return {"rexnet_v1": "official_v1", "rexnet_lite": "official_lite"}[family]


def predict(model, x):
    """Inference through the model's compiled predict path, as a NumPy array."""
    return np.asarray(model.predict(np.asarray(x, np.float32), verbose=0))
