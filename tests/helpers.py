"""Test helpers: the official reference data in tests/data, and seeded checkpoints in any layout."""

import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"  # outputs of the official code (tests/data/README.md)
MANIFESTS = DATA / "manifests"
VECTORS = DATA / "vectors"

# The 11 official configurations: manifest name -> (family, width).
OFFICIAL = {
    "rexnetv1_0.9": ("rexnet_v1", 0.9), "rexnetv1_1.0": ("rexnet_v1", 1.0),
    "rexnetv1_1.3": ("rexnet_v1", 1.3), "rexnetv1_1.5": ("rexnet_v1", 1.5),
    "rexnetv1_2.0": ("rexnet_v1", 2.0), "rexnetv1_2.2": ("rexnet_v1", 2.2),
    "rexnetv1_3.0": ("rexnet_v1", 3.0),
    "rexnet_lite_1.0": ("rexnet_lite", 1.0), "rexnet_lite_1.3": ("rexnet_lite", 1.3),
    "rexnet_lite_1.5": ("rexnet_lite", 1.5), "rexnet_lite_2.0": ("rexnet_lite", 2.0),
}

# Trainable parameters of each official configuration (the official models' `parameters()`).
OFFICIAL_PARAMS = {
    "rexnetv1_0.9": 4_091_257, "rexnetv1_1.0": 4_796_873, "rexnetv1_1.3": 7_557_091,
    "rexnetv1_1.5": 9_728_593, "rexnetv1_2.0": 16_366_620, "rexnetv1_2.2": 19_485_308,
    "rexnetv1_3.0": 34_708_792, "rexnet_lite_1.0": 4_740_056, "rexnet_lite_1.3": 6_747_960,
    "rexnet_lite_1.5": 8_332_296, "rexnet_lite_2.0": 12_966_200,
}


def manifest_for(spec, layout, classes=1000):
    """A manifest (as in tests/data/manifests) for any spec and layout, from the key table."""
    from keras_rexnet.converters.layouts import table

    tensors = [[k, list(shape), "float32"] for e in table(spec, layout, classes)
               for k, shape in e.tensors()]
    return {"tensors": tensors}


def seeded_state(spec, layout, seed=1, classes=1000):
    """``{key: float32 array}`` with the vectors' seeding recipe (random BN statistics included)."""
    from keras_rexnet.converters.seeded import seeded_state as state

    return state(spec, layout, seed, classes)


def official_state(name, seed=1):
    """The seeded checkpoint behind tests/data/vectors, num_batches_tracked included."""
    from keras_rexnet.converters.seeded import materialize

    return materialize(MANIFESTS / f"{name}.json", seed)


def save_pth(state, path):
    import torch

    torch.save({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}, str(path))
    return path


def family_layout(family):
    return {"rexnet_v1": "official_v1", "rexnet_lite": "official_lite"}[family]


def predict(model, x):
    """Inference through the model's compiled predict path, as a NumPy array."""
    return np.asarray(model.predict(np.asarray(x, np.float32), verbose=0))


def timm_checkpoint(name, tmp_path, fmt="pth", classes=1000):
    """timm's own model with random weights and randomized BatchNorm statistics, saved in
    ``tmp_path`` as ``fmt`` ("pth", "safetensors", or "wrapped": a training checkpoint with
    ``module.`` prefixes). Returns ``(path, model in eval mode)``."""
    import timm
    import torch

    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, num_classes=classes)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
    state = dict(model.state_dict())
    if fmt == "safetensors":
        from safetensors.torch import save_file

        path = tmp_path / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    elif fmt == "wrapped":
        path = tmp_path / f"{name}_wrapped.pth"
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 1}, path)
    else:
        path = tmp_path / f"{name}.pth"
        torch.save(state, path)
    return path, model.eval()
