"""keras_rexnet.model.load_model: a model from a name, a .keras file or a checkpoint; one-line
errors. (Names with weights and checkpoints are loaded in test_cli and tests/tflite.)"""

import keras
import numpy as np
import pytest

from keras_rexnet.errors import CheckpointError
from keras_rexnet.model import load_model


@pytest.mark.parametrize("source,weights,message", [
    ("rexnet_999", None, "unknown model 'rexnet_999': not a model name"),
    ("resnet50", None, "unknown model 'resnet50'"),
    ("model.h5", None, r"not a model name .*\(\.pth, \.pt, \.bin, \.ckpt, \.safetensors\)$"),
    ("model.weights.h5", None, "holds weights only: give the model name and the file as weights"),
    ("missing.keras", None, "missing.keras: no such file"),
    ("missing.keras", "imagenet", "`weights` goes with a model name"),
    (3.5, None, "expected a keras.Model, a model name, a .keras file or a PyTorch checkpoint"),
])
def test_load_model_errors(tmp_path, monkeypatch, source, weights, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message) as info:
        load_model(source, weights=weights)
    assert "\n" not in str(info.value)


def test_load_model_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pth: no such file"):
        load_model(tmp_path / "missing.pth")


def test_load_model_keras_file_uncompiled_and_built_models(tmp_path):
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(2, name="d")(inp), name="tiny")
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)  # as a JAX run saves it
    model.save(tmp_path / "tiny.keras")
    loaded = load_model(tmp_path / "tiny.keras")
    assert loaded.name == "tiny" and not loaded.compiled
    x = np.ones((1, 4), np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert load_model(model) is model
    with pytest.raises(ValueError, match="`weights` goes with a model name, not with a built"):
        load_model(model, weights="imagenet")
