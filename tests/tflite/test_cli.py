"""``keras-rexnet export`` (tflite/cli.py's add_export_parser, as keras_rexnet.cli wires it)."""

import argparse
import sys

import pytest
from PIL import Image

from keras_rexnet import tflite


def run(argv):
    from keras_rexnet.tflite.cli import add_export_parser

    parser = argparse.ArgumentParser(prog="keras-rexnet")
    add_export_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", *argv])
    return args.func(args)


@pytest.fixture(scope="module")
def tiny_keras(tmp_path_factory):
    """A small 10-class classifier with the builders' preprocessing layers, as a .keras file."""
    import keras

    keras.utils.set_random_seed(7)
    inp = keras.Input((48, 48, 3), name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescaling")(inp)
    x = keras.layers.Normalization(mean=[0.485, 0.456, 0.406],
                                   variance=[0.229 ** 2, 0.224 ** 2, 0.225 ** 2],
                                   name="normalization")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu6")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax")(x), name="tiny")
    path = tmp_path_factory.mktemp("cli") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    for i, p in enumerate(tflite.sample_photos(40, size=(90, 120), seed=11)):
        Image.fromarray(p).save(d / f"{i:03d}.jpg")
    return d


def test_int8_tflite_from_a_keras_file(tiny_keras, photo_dir, tmp_path, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"digit {i}\n" for i in range(10)))
    out = tmp_path / "tiny_int8.tflite"
    assert run([str(tiny_keras), "--quantize", "int8", "--calibration", str(photo_dir),
                "--labels", str(labels), "-o", str(out), "--eval-count", "8"]) == 0
    text = capsys.readouterr().out
    assert "calibrating with 40 images" in text
    assert "uint8 input, uint8 output" in text
    assert "agreement with Keras on 8 images: top-1" in text
    assert "median latency (XNNPACK)" in text and "at 2 threads" in text
    assert "Android runtimes: no objections" in text
    assert "MediaPipe Tasks ImageClassifier: loads it" in text
    assert "TFLite Task Library 0.4.4 ImageClassifier: loads it" in text
    assert "GPU delegate: " in text and "FULLY_CONNECTED v" in text
    md = tflite.read_metadata(out)
    assert md["labels"] == [f"digit {i}" for i in range(10)] and md["name"] == "tiny"


def test_onnx_from_a_checkpoint(lite_ckpt, tmp_path, capsys):
    out = tmp_path / "lite.onnx"
    assert run([str(lite_ckpt), "-o", str(out), "--eval-count", "4"]) == 0  # format from suffix
    text = capsys.readouterr().out
    assert "exporting rexnet_lite_100" in text and "onnx" in text
    line = [ln for ln in text.splitlines() if "max |diff|" in ln][0]
    assert float(line.split("max |diff| ")[1].split()[0]) <= 1e-4
    assert out.is_file()


def test_tflite_violations_are_printed(tiny_keras, tmp_path, capsys):
    out = tmp_path / "bare.tflite"
    assert run([str(tiny_keras), "--format", "tflite", "--labels", "none", "--no-metadata",
                "--no-eval", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Android runtimes would reject this file:" in text
    assert "TFLite Task Library 0.4.4 ImageClassifier: refuses it: " in text, text
    assert "NormalizationOptions" in text


@pytest.mark.parametrize("argv, message", [
    (["--quantize", "int8"], "needs --calibration DIR"),
    (["--calibration", "x"], "used by --quantize int8 only"),
    (["--format", "onnx", "--quantize", "float16"], "apply to --format tflite only"),
    (["--labels", "missing.txt"], "is not 'imagenet', 'none' or a file"),
])
def test_cli_errors(tiny_keras, tmp_path, argv, message):
    with pytest.raises(ValueError, match=message):
        run([str(tiny_keras), *argv, "-o", str(tmp_path / "m.tflite")])
    with pytest.raises(ValueError, match="--format tflite\\|onnx"):
        run([str(tiny_keras), "-o", str(tmp_path / "m.bin")])
    with pytest.raises(ValueError, match="not a model name"):
        run(["rexnet_nope", "-o", str(tmp_path / "m.tflite")])
    assert list(tmp_path.iterdir()) == []


# -- missing requirements: one line, before any conversion work -----------------------------------

# Runs `keras-rexnet ARGV` with the modules in MISSING made unimportable (sys.modules[name] =
# None, as if not installed); prints the exit code and which heavy modules got imported.
_WITHOUT = """
import json, sys
for name in json.loads(sys.argv[1]):
    sys.modules[name] = None
from keras_rexnet.cli import main
code = main(json.loads(sys.argv[2]))
print(json.dumps({"code": code, "imported": sorted(
    m for m in ("tensorflow", "keras", "torch", "jax") if sys.modules.get(m) is not None)}))
"""
WRITERS = "tensorflow_lite_support.metadata.python.metadata_writers.image_classifier"


def _export_without(missing, argv):
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    proc = subprocess.run([sys.executable, "-c", _WITHOUT, json.dumps(missing),
                           json.dumps(["export", *map(str, argv)])],
                          capture_output=True, text=True, env=env, check=False)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.mark.parametrize("missing, argv, message", [
    ([WRITERS], ["-o", "m.tflite"],
     ("TFLite export needs tflite-support's metadata writers: pip install --no-deps "
      "tflite-support==0.4.4")),
    (["tensorflow"], ["-o", "m.tflite", "--no-metadata", "--no-eval"],
     "TFLite export needs TensorFlow (the converter): pip install 'tensorflow-cpu>=2.16'"),
    (["ai_edge_litert"], ["-o", "m.tflite"],
     "TFLite export needs ai-edge-litert (runs the file): pip install 'keras-rexnet[tflite]'"),
    (["tf2onnx", "onnxruntime"], ["-o", "m.onnx"],
     ("ONNX export needs tf2onnx (the ONNX converter), onnxruntime (runs the file): "
      "pip install 'keras-rexnet[tflite]'")),
])
def test_cli_missing_requirement(tmp_path, missing, argv, message):
    """The model (a .keras path that does not exist: loading it would fail with another message)
    is never loaded: the one error line names the install step, and Keras was not imported."""
    argv = [tmp_path / "nowhere.keras"] + [tmp_path / a if a.startswith("m.") else a for a in argv]
    result, err = _export_without(missing, argv)
    assert result == {"code": 2, "imported": []}
    assert err.splitlines() == [f"keras-rexnet: error: {message}"]
    assert list(tmp_path.iterdir()) == []


def test_library_export_checks_first(tmp_path, monkeypatch):
    from keras_rexnet.tflite.requirements import MissingRequirement, missing

    monkeypatch.setitem(sys.modules, WRITERS, None)
    with pytest.raises(MissingRequirement, match="metadata writers: pip install --no-deps "
                                                 "tflite-support==0.4.4$"):
        tflite.export_tflite(str(tmp_path / "nowhere.keras"), tmp_path / "m.tflite")
    assert missing("tflite", metadata=False) == []  # files without metadata need no writers
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(MissingRequirement, match="^ONNX export needs tf2onnx"):
        tflite.export_onnx(str(tmp_path / "nowhere.keras"), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []
    # the writers' native library (libusb) not loading is reported with its cause
    monkeypatch.delitem(sys.modules, WRITERS)
    native = "tensorflow_lite_support.metadata.cc.python._pywrap_metadata_version"
    monkeypatch.setitem(sys.modules, native, None)
    ((what, step),) = missing("tflite")
    assert what.startswith("tflite-support's native metadata library (") and "reinstall" in step
