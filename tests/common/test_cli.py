"""The `keras-rexnet` command line: exit codes, one-line errors, nothing left behind, no
TensorFlow log lines, and `--help`/`list`/`summary` without Keras or a backend.

Backend-independent, so it runs once; the subprocesses use the torch backend unless a test
checks TensorFlow's log lines.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import official_state, save_pth
from keras_rexnet.cli import _NATIVE_LOG


@pytest.fixture(scope="module")
def lite_ckpt(tmp_path_factory):
    return save_pth(official_state("rexnet_lite_1.0"), tmp_path_factory.mktemp("ck") / "lite.pth")


@pytest.fixture(scope="module")
def v1_ckpt(tmp_path_factory):
    return save_pth(official_state("rexnetv1_1.0"), tmp_path_factory.mktemp("ck") / "v1.pth")


def _cli(*args, backend="torch"):
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell: the command quiets TensorFlow
    return subprocess.run([sys.executable, "-m", "keras_rexnet.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, check=False)


# Runs keras_rexnet.cli.main(ARGV) as the console script does, then prints (as the last stdout
# line) which heavy modules the command imported.
_PROBE = """
import json, sys
from keras_rexnet.cli import main
try:
    code = main(json.loads(sys.argv[1]))
except SystemExit as e:
    code = e.code
heavy = sorted(m for m in ("tensorflow", "torch", "jax", "keras") if m in sys.modules)
print(json.dumps({"code": code, "imported": heavy}))
"""


def _probe(*args, backend="tensorflow"):
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps([str(a) for a in args])],
                          capture_output=True, text=True, env=env, check=False)
    *out, last = proc.stdout.strip().splitlines()
    return json.loads(last), "\n".join(out), proc.stderr


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "rexnetr_*"],
                                  ["summary", "rexnet_lite_150"], ["summary", "nope"],
                                  ["convert", "--help"], ["export", "--help"]],
                         ids=lambda a: " ".join(a))
def test_fast_commands_import_no_backend(args):
    """On the TensorFlow backend (where importing Keras imports TensorFlow): nothing heavy."""
    result, out, err = _probe(*args)
    assert result["imported"] == [], result
    if args == ["summary", "nope"]:
        assert result["code"] == 2
        assert err.splitlines() == ["keras-rexnet: error: unknown model 'nope'; known models: "
                                    + ", ".join(__import__("keras_rexnet").spec.MODEL_NAMES)]
    else:
        assert result["code"] == 0 and out and err == ""


def test_verbose_is_global_and_per_command():
    for args in (["--verbose", "list", "rexnet_lite_1*"], ["list", "rexnet_lite_1*", "--verbose"]):
        result, out, _ = _probe(*args)
        assert result == {"code": 0, "imported": []}
        assert out.split() == ["rexnet_lite_100", "rexnet_lite_130", "rexnet_lite_150"]


def test_native_log_filter(tmp_path):
    """TensorFlow's native lines (fd 2) go; Python's stderr and other native lines stay, in order."""
    script = tmp_path / "probe.py"
    script.write_text(
        "import os, sys\n"
        "from keras_rexnet.cli import native_log_filter\n"
        "with native_log_filter():\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are '\n"
        "                b'written to STDERR\\n')\n"
        "    os.write(2, b'I0000 00:00:1796095589.541669    5466 port.cc:153] oneDNN custom '\n"
        "                b'operations are on.\\n')\n"
        "    print('python line', file=sys.stderr)\n"
        "    os.write(2, b'W0000 00:00:1796095589.6  5466 cpu_feature_guard.cc:227] x\\n')\n"
        "    os.write(2, b'2024-01-02 03:04:05.678901: I tensorflow/core/x.cc:12] old style\\n')\n"
        "    os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
        "    os.write(2, b'native line kept\\n')\n"
        "print('after', file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == ["python line", "native line kept", "after"]
    assert _NATIVE_LOG.match("fully_quantize: 0, inference_type: 6, input_inference_type: UINT8, "
                             "output_inference_type: UINT8")


def test_no_tensorflow_log_lines(tmp_path):
    """A command that imports TensorFlow (train reads data with tf.data) and fails: exactly the
    error line; with --verbose the native lines TensorFlow 2.21 writes are there (so the first
    check is not vacuous)."""
    args = ["train", tmp_path / "no_data", "-o", tmp_path / "out"]
    proc = _cli(*args, backend="tensorflow")
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line == f"keras-rexnet: error: {tmp_path / 'no_data' / 'train'}: missing; expected " \
                   "DATA/train/<class>/ and DATA/val/<class>/ folders of images"
    loud = _cli("--verbose", *args, backend="tensorflow")
    assert loud.returncode == 2 and loud.stderr.splitlines()[-1] == line
    assert any(_NATIVE_LOG.match(line) for line in loud.stderr.splitlines()), loud.stderr


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
    # One case on TensorFlow: it imports TensorFlow (builds the model) before failing.
    proc = _cli("convert", path, "-o", out, *extra,
                backend="tensorflow" if case == "missing" else "torch")
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()  # exactly one line: no traceback, no TensorFlow log
    assert line.startswith(f"keras-rexnet: error: {path}: ") and match in line, proc.stderr
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
    (line,) = proc.stderr.splitlines()
    assert line.startswith("keras-rexnet: error: ") and match in line


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
    (line,) = proc.stderr.splitlines()
    assert line.startswith("keras-rexnet: error: ") and match in line


def test_error_message_is_one_line():
    from keras_rexnet.cli import _message

    assert _message(ModuleNotFoundError("No module named 'timm'", name="timm")) == \
        "No module named 'timm' (pip install 'keras-rexnet[convert]')"
    assert _message(ModuleNotFoundError("No module named 'torch.nn'", name="torch.nn")) == \
        "No module named 'torch.nn' (pip install 'keras-rexnet[torch]')"
    assert _message(ValueError("first\nsecond\n")) == "first second"
