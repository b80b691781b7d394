"""The converter product: convert + verify on this backend, outputs written atomically."""

import json

import numpy as np
import pytest
import torch

import keras
import keras_rexnet
from helpers import OFFICIAL, predict, timm_checkpoint
from keras_rexnet import CheckpointError
from keras_rexnet import spec as specs
from keras_rexnet.converters.cli import convert

TIMM_NAMES = ["rexnet_100", "rexnet_130", "rexnet_150", "rexnet_200", "rexnet_300",
              "rexnetr_100", "rexnetr_130", "rexnetr_150", "rexnetr_200", "rexnetr_300"]


def _check(result, tmp_path, out):
    assert result.report.passed, result.report.table()
    assert result.report.logits.max_abs <= 1e-4
    assert out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


# Each family at one size in the fast stage, the other pairing in the slow stage.
@pytest.mark.parametrize("name,size", [
    pytest.param("rexnetv1_1.0", (224, 224), id="224-rexnetv1_1.0"),
    pytest.param("rexnet_lite_1.0", (61, 83), id="61x83-rexnet_lite_1.0"),
    pytest.param("rexnetv1_1.0", (61, 83), id="61x83-rexnetv1_1.0", marks=pytest.mark.slow),
    pytest.param("rexnet_lite_1.0", (224, 224), id="224-rexnet_lite_1.0", marks=pytest.mark.slow),
])
def test_convert_official(name, size, official_ckpt, tmp_path):
    out = tmp_path / "model.weights.h5"
    result = convert(official_ckpt(name), out, input_size=size)
    _check(result, tmp_path, out)
    family, width = OFFICIAL[name]
    assert result.model == specs.default_name(specs.spec_for(family, width))
    model = keras_rexnet.create_model(result.model, weights=str(out))
    assert model.name == result.model


# Wrapped/prefixed files are read the same way on every backend (tests/common/test_checkpoints):
# end to end here in the slow stage.
@pytest.mark.parametrize("name,fmt", [("rexnet_100", "pth"),
                                      pytest.param("rexnetr_100", "safetensors",
                                                   marks=pytest.mark.slow),
                                      pytest.param("rexnetr_130", "wrapped",
                                                   marks=pytest.mark.slow)])
def test_convert_timm(name, fmt, tmp_path):
    path, timm_model = timm_checkpoint(name, tmp_path, fmt)
    out = tmp_path / "timm.weights.h5"
    result = convert(path, out, input_size=(75, 97))
    _check(result, tmp_path, out)
    assert result.layout == "timm" and result.model == name
    # and the saved weights reproduce timm itself on raw pixels
    model = keras_rexnet.create_model(name, weights=str(out), classifier_activation=None)
    pixels = np.random.default_rng(0).uniform(0, 255, (1, 64, 80, 3)).astype("float32")
    with torch.no_grad():
        expected = timm_model(torch.from_numpy(
            keras_rexnet.preprocess_input(pixels).transpose(0, 3, 1, 2).copy())).numpy()
    assert np.abs(predict(model, pixels) - expected).max() <= 1e-4


def _alternate_sizes(names, sizes=((224, 224), (97, 75))):
    """Each checkpoint at one size, the sizes taking turns (every size meets every family)."""
    return [pytest.param(n, sizes[i % len(sizes)], id=f"{n}-{sizes[i % len(sizes)][0]}x"
                         f"{sizes[i % len(sizes)][1]}") for i, n in enumerate(names)]


@pytest.mark.slow
@pytest.mark.parametrize("name,size", _alternate_sizes(TIMM_NAMES))
def test_convert_every_timm_model(name, size, tmp_path):
    path, _ = timm_checkpoint(name, tmp_path, classes=1000)
    out = tmp_path / "m.weights.h5"
    _check(convert(path, out, input_size=size), tmp_path, out)


@pytest.mark.slow
@pytest.mark.parametrize("name,size", _alternate_sizes(sorted(OFFICIAL)))
def test_convert_every_official_configuration(name, size, official_ckpt, tmp_path):
    out = tmp_path / "m.weights.h5"
    _check(convert(official_ckpt(name), out, input_size=size), tmp_path, out)


def test_report_json_and_keras_file(official_ckpt, tmp_path):
    out, report, kfile = (tmp_path / "m.weights.h5", tmp_path / "r.json", tmp_path / "m.keras")
    result = convert(official_ckpt("rexnet_lite_1.0"), out, report_path=report, keras_file=kfile,
                     input_size=(64, 64))
    data = json.loads(report.read_text())
    assert data["passed"] and data["first_failure"] is None
    assert [d["name"] for d in data["layers"]][:2] == ["stem_act", "block0_project_bn"]
    assert data["layers"][-1]["name"] == "predictions"
    assert "all layers within tolerance" in result.report.table()
    loaded = keras.saving.load_model(kfile, compile=False)
    assert loaded.name == "rexnet_lite_100"


def test_failed_verification_names_first_layer_and_writes_nothing(official_ckpt, tmp_path):
    out = tmp_path / "m.weights.h5"
    with pytest.raises(CheckpointError, match="verification failed: stem_act"):
        convert(official_ckpt("rexnet_lite_1.0"), out, input_size=(32, 32), tolerance=1e-12)
    assert list(tmp_path.iterdir()) == []


def test_model_mismatch(official_ckpt, tmp_path):
    out = tmp_path / "m.weights.h5"
    with pytest.raises(CheckpointError, match="holds rexnet_lite_100, not the requested "
                                              "rexnet_lite_130"):
        convert(official_ckpt("rexnet_lite_1.0"), out, model_name="rexnet_lite_130")
    assert not out.exists()


@pytest.mark.slow  # a timm rexnetr with 17 classes, built twice: the fast stage converts timm above
def test_load_builds_the_detected_model(tmp_path):
    from keras_rexnet.converters import load

    path, timm_model = timm_checkpoint("rexnetr_100", tmp_path, "safetensors", classes=17)
    model = load(path, classifier_activation=None)
    assert model.name == "rexnetr_100" and model.output.shape == (None, 17)
    pixels = np.random.default_rng(3).uniform(0, 255, (1, 48, 56, 3)).astype("float32")
    with torch.no_grad():
        expected = timm_model(torch.from_numpy(
            keras_rexnet.preprocess_input(pixels).transpose(0, 3, 1, 2).copy())).numpy()
    assert np.abs(predict(model, pixels) - expected).max() <= 1e-4
    headless = load(path, include_top=False, pooling="avg")
    assert headless.output.shape == (None, 1280)
