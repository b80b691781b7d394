"""``keras-rexnet export`` (tflite/cli.py's add_export_parser, as keras_rexnet.cli wires it)."""

import argparse

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
    assert "Android Task Library ImageClassifier: no objections" in text
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
    assert "Android Task Library ImageClassifier would reject this file:" in text
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
