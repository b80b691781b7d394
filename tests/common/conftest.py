"""Fixtures shared by the pretrained-weights tests (test_hub.py, test_no_torch.py)."""

import numpy as np
import pytest

from helpers import VECTORS, official_state, save_pth, seeded_state
from keras_rexnet import spec as specs
from keras_rexnet.converters.seeded import save_checkpoint
from standins import World

LITE_VECTORS = VECTORS / "rexnet_lite_1.0_s1_224x224.npz"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The files as published: rexnet_150 seeded in timm's layout as safetensors (timm's Hub
    file), ReXNet-lite 1.0 seeded as the official vectors were, as NAVER's .pth."""
    folder = tmp_path_factory.mktemp("published")
    v150 = save_checkpoint(seeded_state(specs.spec_by_name("rexnet_150"), "timm", 1),
                           folder / "model.safetensors")
    lite = save_pth(official_state("rexnet_lite_1.0", 1), folder / "rexnet_lite_1.0.pth")
    vectors = np.load(LITE_VECTORS)
    x = folder / "input.npy"
    np.save(x, vectors["input_nchw"].transpose(0, 2, 3, 1))
    return {"v150": v150, "lite": lite, "input": x, "logits": vectors["logits"],
            "pooled": vectors["pooled"]}


@pytest.fixture
def world(tmp_path, published):
    """The stand-ins and client processes of this interpreter on Keras' numpy backend."""
    w = World(tmp_path, published)
    yield w
    w.stop()
