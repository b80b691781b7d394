import functools

import pytest

from helpers import family_layout, official_state, save_pth, seeded_state


@pytest.fixture(scope="session")
def ckpt_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="session")
def official_ckpt(ckpt_dir):
    """``official_ckpt(name, seed=1)`` -> path of the seeded official checkpoint (cached)."""

    @functools.lru_cache(maxsize=None)
    def make(name, seed=1):
        return save_pth(official_state(name, seed), ckpt_dir / f"{name}_s{seed}.pth")

    return make


@pytest.fixture(scope="session")
def spec_ckpt(ckpt_dir):
    """``spec_ckpt(spec, layout, seed)`` -> (path, state) for any configuration."""

    @functools.lru_cache(maxsize=None)
    def make(spec, layout=None, seed=1, classes=1000):
        layout = layout or family_layout(spec.family)
        state = seeded_state(spec, layout, seed, classes)
        tag = f"{spec.family}_{spec.width:g}_{spec.ch_div}_{layout}_{seed}_{classes}"
        return save_pth(state, ckpt_dir / f"{tag}.pth"), state

    return make

