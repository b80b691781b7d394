"""scripts/train_imagenet.py: 2 steps on a tiny folder of real photo crops, resume, data parallel,
EMA (the checkpoint holds the averaged weights) and drop path."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from PIL import Image
    from sklearn.datasets import load_sample_images

    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for split, n in [("train", 8), ("val", 2)]:
        for c, photo in enumerate(load_sample_images().images):
            d = root / split / f"class{c}"
            d.mkdir(parents=True)
            for i in range(n):
                y, x = rng.integers(0, 300), rng.integers(0, 500)
                Image.fromarray(photo[y:y + 120, x:x + 120]).save(d / f"{i}.jpg")
    return root


def _train(folder, out, backend, *extra, env=None):
    cmd = [sys.executable, str(ROOT / "scripts" / "train_imagenet.py"), str(folder), "-o",
           str(out), "--model", "rexnet_lite_100", "--batch-size", "4", "--image-size", "32",
           "--steps-per-epoch", "2", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env=dict(os.environ, KERAS_BACKEND=backend, **(env or {})))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_train_two_steps_and_resume_on_tensorflow(tiny_folder, tmp_path):
    proc, result = _train(tiny_folder, tmp_path, "tensorflow", "--epochs", "1")
    assert result["epochs"] == 1 and np.isfinite(result["last"]["loss"])
    assert "over 1 device(s)" in proc.stdout  # MirroredStrategy on the one CPU
    assert (tmp_path / "last.keras").is_file()
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 1
    proc, result = _train(tiny_folder, tmp_path, "tensorflow", "--epochs", "2", "--resume")
    assert "epochs 1->2" in proc.stdout
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 2
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries
    assert len((tmp_path / "log.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs


@pytest.mark.slow
def test_train_data_parallel_on_two_jax_devices(tiny_folder, tmp_path):
    proc, result = _train(tiny_folder, tmp_path, "jax", "--epochs", "1",
                          env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert "over 2 device(s)" in proc.stdout
    assert np.isfinite(result["last"]["loss"])


def test_train_rejects_a_folder_without_splits(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_imagenet.py"),
                           str(tmp_path), "-o", str(tmp_path / "out")], capture_output=True,
                          text=True, env=dict(os.environ, KERAS_BACKEND="torch"))
    assert proc.returncode == 2 and "expected DATA/train/<class>/" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_checkpoint_holds_the_ema_weights_and_resume_swaps_them_back(tmp_path):
    """In-process, on a small dense model: the saved model holds the optimizer's moving averages
    (the trained weights in its average slots), the model trains on with its own weights, and
    ``swap_ema_weights`` after loading gives the trained weights back."""
    import keras

    from keras_rexnet import train

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")])
    model.compile(optimizer=keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5),
                  loss="mse")
    seen = {}

    class Record(keras.callbacks.Callback):  # runs after _SaveState
        def on_epoch_end(self, epoch, logs=None):
            seen["trained"] = [np.array(v) for v in self.model.trainable_variables]
            seen["averages"] = [np.array(a) for _, a in train._ema_pairs(self.model.optimizer)]

    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0,
              callbacks=[train._SaveState(tmp_path, ema=0.5), Record()])
    assert len(seen["averages"]) == 2 and not np.allclose(seen["trained"][0],
                                                           seen["averages"][0])
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["ema"] == 0.5 and state["ema_in_model"] is True
    loaded = keras.saving.load_model(tmp_path / "last.keras")
    for saved, average in zip(loaded.trainable_variables, seen["averages"]):
        np.testing.assert_array_equal(np.array(saved), average)  # the model: the averages
    for (_, slot), trained in zip(train._ema_pairs(loaded.optimizer), seen["trained"]):
        np.testing.assert_array_equal(np.array(slot), trained)  # the slots: the trained ones
    train.swap_ema_weights(loaded)  # what --resume does
    for var, trained in zip(loaded.trainable_variables, seen["trained"]):
        np.testing.assert_array_equal(np.array(var), trained)


@pytest.mark.slow
def test_train_two_steps_with_ema_and_drop_path(tiny_folder, tmp_path):
    import keras

    import keras_rexnet
    from keras_rexnet import train

    proc, result = _train(tiny_folder, tmp_path, "tensorflow", "--epochs", "1", "--ema",
                          "0.9999", "--drop-path", "0.1")
    assert "EMA 0.9999, drop path 0.1" in proc.stdout and np.isfinite(result["last"]["loss"])
    state = json.loads((tmp_path / "state.json").read_text())
    assert (state["ema"], state["ema_in_model"], state["drop_path_rate"]) == (0.9999, True, 0.1)
    model = keras.saving.load_model(tmp_path / "last.keras")
    optimizer = model.optimizer
    assert optimizer.use_ema and optimizer.ema_momentum == pytest.approx(0.9999)
    rates = [layer.rate for layer in model.layers if isinstance(layer, keras_rexnet.DropPath)]
    assert rates and max(rates) == pytest.approx(0.1)
    # The model holds the averages, the optimizer's slots the trained weights. The warm-up starts
    # at learning rate 0, so after 2 steps average = 0.9999 * initial + 0.0001 * trained; the
    # BatchNorm scales start at 1 and the offsets at 0, which pins the averages down exactly.
    pairs = [(var, average) for var, (_, average) in
             zip(model.trainable_variables, train._ema_pairs(optimizer))]
    checked = 0
    for var, slot in pairs:
        saved, trained = np.array(var), np.array(slot)
        if var.path.endswith("gamma"):
            np.testing.assert_allclose(saved, 0.9999 + 0.0001 * trained, rtol=0, atol=1e-6)
            checked += 1
        elif var.path.endswith("beta"):
            np.testing.assert_allclose(saved, 0.0001 * trained, rtol=0, atol=1e-7)
            checked += 1
    assert checked > 50
    assert any(not np.allclose(np.array(v), np.array(s)) for v, s in pairs)
    # resuming asks for the same regularizers
    bad = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_imagenet.py"),
                          str(tiny_folder), "-o", str(tmp_path), "--model", "rexnet_lite_100",
                          "--batch-size", "4", "--image-size", "32", "--epochs", "2",
                          "--resume"], capture_output=True, text=True,
                         env=dict(os.environ, KERAS_BACKEND="tensorflow"))
    assert bad.returncode == 2 and "started with --ema 0.9999" in bad.stderr
