"""scripts/train_imagenet.py: 2 steps on a tiny folder of real photo crops, resume, data parallel."""

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
