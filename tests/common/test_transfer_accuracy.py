"""Transfer learning reaches an accuracy clearly above chance (10%) on held-out digits.

The recipe (1 head epoch, then 4 at 3e-4) is chosen to be stable, not just good on one
machine. Runs in a torch-backend subprocess (the fastest backend for training here); every backend runs
one epoch of the same recipe in tests/backend/test_transfer.py.
"""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, sys
import torch
sys.path.insert(0, sys.argv[2])
from helpers import official_state, save_pth
from keras_rexnet import datasets, transfer
import keras
keras.utils.set_random_seed(0)
path = save_pth(official_state("rexnet_lite_1.0"), sys.argv[1])
(xt, yt), (xv, yv) = datasets.digits(32)
model, backbone = transfer.build_classifier("rexnet_lite_100", 10, input_shape=(32, 32, 3),
                                            weights=str(path))
transfer.fine_tune(model, backbone, (xt, yt), head_epochs=1, full_epochs=4,
                   full_learning_rate=3e-4, verbose=0)
loss, acc = model.evaluate(xv, yv, verbose=0)
print(json.dumps({"held_out_accuracy": acc}))
"""


@pytest.mark.slow
def test_held_out_accuracy_above_chance(tmp_path):
    tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "lite.pth"), tests_dir],
                          capture_output=True, text=True,
                          env=dict(os.environ, KERAS_BACKEND="torch"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    acc = json.loads(proc.stdout.strip().splitlines()[-1])["held_out_accuracy"]
    print(f"held-out digits accuracy after 1+4 epochs: {acc:.3f}")
    # Training is not bit-reproducible across machines: with this recipe seeds 1-5 ended at
    # 0.85-0.91 here (at 1e-3 and 3 epochs the same seeds spread over 0.45-0.78).
    assert acc >= 0.7, acc
