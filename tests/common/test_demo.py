"""`make demo`'s main job runs end to end (short training) and prints its summary."""

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    env = dict(os.environ, KERAS_REXNET_ARTIFACTS=str(tmp_path), DEMO_EPOCHS="1",
               KERAS_HOME=str(tmp_path / "keras_home"), KERAS_BACKEND="tensorflow",
               # never the internet, even on a machine that has it: the Hub offline, every other
               # download through a proxy that refuses at once (port 9 on this machine)
               HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"),
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="")
    env.pop("REXNET_CHECKPOINT", None)
    proc = subprocess.run([sys.executable, "-m", "keras_rexnet.demo"], capture_output=True,
                          text=True, env=env, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for step in ("convert", "transfer", "export", "classify"):
        assert f"\n{step} " in out
    assert "SEEDED" in out  # no network here: it must say plainly which checkpoint it used
    assert out.strip().splitlines()[-1].endswith(str(tmp_path))
    # the fine-tuned digits model keeps its accuracy through int8 on the held-out scans
    found = re.search(r"int8 accuracy ([0-9.]+)% vs float ([0-9.]+)%", out)
    assert found, out[-2000:]
    int8_acc, float_acc = map(float, found.groups())
    assert float_acc > 30 and int8_acc >= float_acc - 5, (int8_acc, float_acc)
    for name in ["rexnet_lite_100.weights.h5", "digits_rexnet_lite_int8.tflite",
                 "digits_rexnet_lite.onnx", "rexnet_lite_100_int8.tflite"]:
        assert (tmp_path / name).is_file(), name
