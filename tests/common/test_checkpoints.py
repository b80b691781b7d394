"""Reading checkpoints: wrappers, prefixes, safetensors, and everything hostile or broken."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers import official_state, save_pth, seeded_state
from keras_rexnet import CheckpointError
from keras_rexnet import spec as specs
from keras_rexnet.converters import detect, read_state_dict
from keras_rexnet.converters.checkpoint import _read_safetensors, _read_safetensors_bfloat16


@pytest.fixture(scope="module")
def lite_state():
    return {k: v for k, v in official_state("rexnet_lite_1.0").items()}


class _Evil:
    """Pickles into a call of os.system: what a hostile checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_checkpoint(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": torch.zeros(1), "payload": _Evil(marker)}, path)
    assert not marker.exists()
    return path, marker


def test_hostile_pickle_is_refused_and_runs_nothing(tmp_path):
    path, marker = _evil_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="refused: .*posix.system.*nothing was executed"):
        read_state_dict(path)
    assert not marker.exists()


def test_cli_hostile_pickle(tmp_path):
    path, marker = _evil_checkpoint(tmp_path)
    out = tmp_path / "out.weights.h5"
    proc = subprocess.run([sys.executable, "-m", "keras_rexnet.cli", "convert", str(path),
                           "-o", str(out)], capture_output=True, text=True,
                          env=dict(os.environ, KERAS_BACKEND="torch"))
    assert proc.returncode == 2
    assert "refused" in proc.stderr and "Traceback" not in proc.stderr
    assert not marker.exists() and not out.exists()
    assert list(tmp_path.iterdir()) == [path]  # no temporary file either


@pytest.mark.parametrize("wrapper", ["state_dict", "model", "model_ema"])
def test_wrapped_and_prefixed(tmp_path, lite_state, wrapper):
    wrapped = {wrapper: {f"module.{k}": torch.from_numpy(v) for k, v in lite_state.items()},
               "epoch": 3}
    path = tmp_path / "wrapped.pth"
    torch.save(wrapped, path)
    state = read_state_dict(path)
    assert not any(k.startswith("module.") or k.endswith("num_batches_tracked") for k in state)
    found = detect(state, path)
    assert (found.name, found.layout, found.classes) == ("rexnet_lite_100", "official_lite", 1000)


def test_safetensors_without_torch_objects(tmp_path):
    from safetensors.numpy import save_file

    spec = specs.spec_by_name("rexnetr_130")
    state = seeded_state(spec, "timm", seed=2, classes=11)
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    found = detect(path)
    assert (found.name, found.layout, found.classes) == ("rexnetr_130", "timm", 11)


@pytest.mark.parametrize("name,expected", [("rexnetv1_0.9", "rexnet_090"),
                                           ("rexnetv1_2.2", "rexnet_220"),
                                           ("rexnet_lite_1.5", "rexnet_lite_150")])
def test_detects_official_widths(name, expected):
    assert detect(official_state(name)).name == expected


def test_detects_unpublished_width():
    found = detect(seeded_state(specs.rexnet_v1(1.1), "official_v1"))
    assert found.spec == specs.rexnet_v1(1.1)


def test_truncated_file(tmp_path, lite_state):
    full = save_pth(lite_state, tmp_path / "full.pth").read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(CheckpointError, match="cut.pth: corrupt, truncated"):
        read_state_dict(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("hello, I am not a checkpoint\n")
    with pytest.raises(CheckpointError, match="notes.pth: corrupt, truncated or not a PyTorch"):
        read_state_dict(path)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        read_state_dict(bad)
    odd = tmp_path / "weights.npz"
    odd.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="unknown checkpoint type '.npz'"):
        read_state_dict(odd)


def test_non_tensor_payload(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="not a state dict"):
        read_state_dict(path)


def test_other_architecture(tmp_path):
    import torchvision

    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(CheckpointError, match="not a ReXNet checkpoint"):
        detect(path)


def test_nan_weights(tmp_path, lite_state):
    state = dict(lite_state)
    state["features.3.out.0.weight"] = state["features.3.out.0.weight"].copy()
    state["features.3.out.0.weight"][0, 0, 0, 0] = np.nan
    path = save_pth(state, tmp_path / "nan.pth")
    with pytest.raises(CheckpointError, match="'features.3.out.0.weight' contains NaN or inf"):
        read_state_dict(path)


def test_missing_and_unexpected_tensors(lite_state):
    state = {k: v for k, v in lite_state.items() if not k.endswith("num_batches_tracked")}
    missing = dict(state)
    del missing["features.5.out.4.running_var"]
    with pytest.raises(CheckpointError, match="missing 1 tensors: features.5.out.4.running_var"):
        detect(missing)
    extra = dict(state, **{"features.99.weight": np.zeros(3, np.float32)})
    with pytest.raises(CheckpointError, match="1 unexpected tensors: features.99.weight"):
        detect(extra)


def test_missing_file():
    with pytest.raises(CheckpointError, match="no such file"):
        read_state_dict(pathlib.Path("/nonexistent/x.pth"))


@pytest.mark.parametrize("name", ["rexnetv1_1.3", "rexnet_lite_2.0"])
def test_seeded_from_spec_equals_seeded_from_manifest(name):
    """The spec's key table gives the official key order, so both draw the same values."""
    from helpers import OFFICIAL, family_layout
    from keras_rexnet.converters.seeded import seeded_state as packaged

    family, width = OFFICIAL[name]
    ours = packaged(specs.spec_for(family, width), family_layout(family), seed=4)
    theirs = {k: v for k, v in official_state(name, 4).items()
              if not k.endswith("num_batches_tracked")}
    assert list(ours) == list(theirs)
    for key in theirs:
        np.testing.assert_array_equal(ours[key], theirs[key])


def test_bfloat16_safetensors_load_without_torch_as_float32(tmp_path):
    """safetensors.numpy cannot return bfloat16: the reader takes their bits itself."""
    import torch
    from safetensors.torch import save_file

    rng = np.random.default_rng(0)
    tensors = {"a.weight": torch.from_numpy(rng.standard_normal((4, 3, 3, 3)).astype("float32"))
               .to(torch.bfloat16),
               "a.bias": torch.from_numpy(rng.standard_normal(4).astype("float32")),
               "n": torch.tensor(7, dtype=torch.int64)}
    path = tmp_path / "bf16.safetensors"
    save_file(tensors, str(path))
    # through safetensors (with ml_dtypes, as here) and through our reader (without it)
    for state in (_read_safetensors(path), _read_safetensors_bfloat16(path)):
        assert state["a.weight"].dtype == np.float32
        np.testing.assert_array_equal(state["a.weight"], tensors["a.weight"].float().numpy())
        np.testing.assert_array_equal(state["a.bias"], tensors["a.bias"].numpy())
        assert state["n"] == 7
    path.write_bytes(path.read_bytes()[:-10])
    for read in (_read_safetensors, _read_safetensors_bfloat16):
        with pytest.raises(CheckpointError, match="corrupt, truncated"):
            read(path)
