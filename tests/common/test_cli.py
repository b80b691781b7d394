"""The `keras-rexnet convert` command line: exit codes, one-line errors, nothing left behind.

Backend-independent, so it runs once; the subprocesses use the torch backend.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import official_state, save_pth


@pytest.fixture(scope="module")
def lite_ckpt(tmp_path_factory):
    return save_pth(official_state("rexnet_lite_1.0"), tmp_path_factory.mktemp("ck") / "lite.pth")


@pytest.fixture(scope="module")
def v1_ckpt(tmp_path_factory):
    return save_pth(official_state("rexnetv1_1.0"), tmp_path_factory.mktemp("ck") / "v1.pth")


def _cli(*args):
    env = dict(os.environ, KERAS_BACKEND="torch")
    return subprocess.run([sys.executable, "-m", "keras_rexnet.cli", *map(str, args)],
                          capture_output=True, text=True, env=env)


def test_cli_convert_success(lite_ckpt, tmp_path):
    out = tmp_path / "lite.weights.h5"
    proc = _cli("convert", lite_ckpt, "-o", out, "--input-size", 40, 48,
                "--report", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    assert "rexnet_lite_100 (official_lite), 4,740,056 params" in proc.stdout
    assert out.exists() and (tmp_path / "r.json").exists()


@pytest.mark.parametrize("case", ["truncated", "not_checkpoint", "other_arch", "model_mismatch",
                                  "missing", "unexpected", "nan"])
def test_cli_errors_leave_nothing(case, lite_ckpt, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    state = {k: v for k, v in official_state("rexnet_lite_1.0").items()}
    path, extra, match = src / "ckpt.pth", [], None
    if case == "truncated":
        data = lite_ckpt.read_bytes()
        path.write_bytes(data[: len(data) // 3])
        match = "corrupt, truncated"
    elif case == "not_checkpoint":
        path.write_text("plain text")
        match = "corrupt, truncated or not a PyTorch checkpoint"
    elif case == "other_arch":
        save_pth({"conv1.weight": np.zeros((3, 3), np.float32)}, path)
        match = "not a ReXNet checkpoint"
    elif case == "model_mismatch":
        save_pth(state, path)
        extra, match = ["--model", "rexnet_lite_200"], "not the requested rexnet_lite_200"
    elif case == "missing":
        del state["output.4.bias"]
        save_pth(state, path)
        match = "missing 1 tensors: output.4.bias"
    elif case == "unexpected":
        state["extra.weight"] = np.zeros(2, np.float32)
        save_pth(state, path)
        match = "1 unexpected tensors: extra.weight"
    elif case == "nan":
        state["output.4.bias"] = np.full_like(state["output.4.bias"], np.inf)
        save_pth(state, path)
        match = "contains NaN or inf"
    out = tmp_path / "out.weights.h5"
    proc = _cli("convert", path, "-o", out, *extra)
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"keras-rexnet: error: {path}: ") and match in line, proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_cli_convert_all(lite_ckpt, v1_ckpt, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name, ckpt in [("rexnet_lite_1.0", lite_ckpt), ("rexnetv1_1.0", v1_ckpt)]:
        (src / f"{name}.pth").write_bytes(ckpt.read_bytes())
    (src / "README.txt").write_text("not a checkpoint, skipped")
    proc = _cli("convert", "--all", src, "-o", tmp_path / "out", "--input-size", 32, 32)
    assert proc.returncode == 0, proc.stderr
    assert "converted 2, failed 0" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "rexnet_lite_1.0.weights.h5", "rexnetv1_1.0.weights.h5"]


def test_cli_list_and_summary():
    proc = _cli("list", "rexnet_lite_*")
    assert proc.returncode == 0 and proc.stdout.split() == [
        "rexnet_lite_100", "rexnet_lite_130", "rexnet_lite_150", "rexnet_lite_200"]
    proc = _cli("summary", "rexnet_100")
    assert proc.returncode == 0, proc.stderr
    assert "4,796,873" in proc.stdout and "398,370,392" in proc.stdout
    assert "(7, 7)" in proc.stdout  # stride 32 at 224x224


def test_cli_classify(lite_ckpt, tmp_path):
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photo = tmp_path / "flower.jpg"
    Image.fromarray(load_sample_images().images[1]).save(photo)
    proc = _cli("classify", photo, "--weights", lite_ckpt, "--top", 3)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == str(photo) and len(lines) == 4 and lines[1].lstrip().startswith("1. ")


@pytest.mark.parametrize("case", ["missing", "not_image", "unknown_model"])
def test_cli_classify_errors(case, tmp_path):
    image = tmp_path / "x.jpg"
    args = [image]
    if case == "not_image":
        image.write_text("not an image")
        match = "not a readable image"
    elif case == "missing":
        match = "no such file"
    else:
        from PIL import Image

        Image.new("RGB", (40, 40)).save(image)
        args += ["--model", "resnet50"]
        match = "unknown model 'resnet50'"
    proc = _cli("classify", *args)
    assert proc.returncode == 2
    assert match in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_cli_bench():
    """`keras-rexnet bench`: a row per inference path and batch size (times are not checked)."""
    proc = _cli("bench", "rexnet_lite_100", "--runs", 1, "--size", 64, "--batch", 1, 2)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("rexnet_lite_100 on Keras") and "/ torch, 64x64" in lines[0]
    rows = [line.split() for line in lines[2:]]
    assert len(rows) == 8 and {r[-4] for r in rows} == {"1", "2"}
    assert sum(line.startswith("inference_function (recommended)") for line in lines) == 2
    assert all(float(r[-3]) > 0 and r[-1].endswith("x") for r in rows)


@pytest.mark.parametrize("args,match", [(["resnet50"], "unknown model 'resnet50'"),
                                        (["--runs", "0"], "--runs and --batch must be >= 1"),
                                        (["--size", "16"], "--size >= 32")])
def test_cli_bench_errors(args, match):
    proc = _cli("bench", *args)
    assert proc.returncode == 2
    assert match in proc.stderr and "Traceback" not in proc.stderr
