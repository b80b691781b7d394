"""Every bad argument is a clear ValueError, raised before any file is written."""

import warnings

import numpy as np
import pytest

from keras_rexnet import tflite
from keras_rexnet.tflite import export as ex


def _nothing_written(folder):
    return sorted(p.name for p in folder.iterdir()) == []


@pytest.fixture
def out_dir(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


@pytest.mark.parametrize("quantization", ["int4", "INT8", "fp16", "float64", 8, True])
def test_bad_quantization_name(lite_model, out_dir, quantization):
    with pytest.raises(ValueError, match="quantization must be one of"):
        tflite.export_tflite(lite_model, out_dir / "m.tflite", quantization=quantization)
    assert _nothing_written(out_dir)


def test_int8_without_representative_data(lite_model, out_dir):
    with pytest.raises(ValueError, match="needs representative_data"):
        tflite.export_tflite(lite_model, out_dir / "m.tflite", quantization="int8")
    assert _nothing_written(out_dir)


@pytest.mark.parametrize("data, message", [
    (np.zeros((4, 160, 160, 3), np.uint8) + 7, r"shape \(4, 160, 160, 3\); expected RGB images "
                                               r"\(n, 224, 224, 3\)"),
    (np.zeros((4, 224, 224, 1), np.uint8) + 7, r"expected RGB images"),
    (np.zeros((4, 3, 224, 224), np.uint8) + 7, r"expected RGB images"),
    (np.zeros((224, 224), np.uint8) + 7, r"expected RGB images"),
    (np.zeros((0, 224, 224, 3), np.uint8), r"is empty"),
    ([], r"is empty"),
    (np.full((2, 224, 224, 3), -1.5, np.float32), r"expected raw RGB pixels in \[0, 255\]"),
    (np.full((2, 224, 224, 3), 0.5, np.float32), r"looks scaled to \[0, 1\]"),
    (np.full((2, 224, 224, 3), np.nan, np.float32), r"NaN"),
    (np.full((2, 224, 224, 3), 300.0, np.float32), r"expected raw RGB pixels"),
    (np.full((2, 224, 224, 3), "a"), r"dtype"),
    (12345, r"must be an array of RGB images"),
    ([np.zeros((224, 224, 3)) + 9, np.zeros((200, 224, 3))], r"shape \(1, 200, 224, 3\)"),
])
def test_bad_representative_data(lite_model, out_dir, data, message):
    with pytest.raises(ValueError, match=message):
        tflite.export_tflite(lite_model, out_dir / "m.tflite", quantization="int8",
                             representative_data=data)
    assert _nothing_written(out_dir)


def test_representative_data_from_a_missing_folder(lite_model, out_dir, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        tflite.export_tflite(lite_model, out_dir / "m.tflite", quantization="int8",
                             representative_data=str(tmp_path / "nowhere"))
    assert _nothing_written(out_dir)


@pytest.mark.parametrize("name, message", [
    ("m.tfl", "must end with .tflite"), ("m", "must end with .tflite"),
    ("missing/m.tflite", "does not exist"),
])
def test_bad_output_path(lite_model, out_dir, name, message):
    with pytest.raises(ValueError, match=message):
        tflite.export_tflite(lite_model, out_dir / name)
    assert _nothing_written(out_dir)


def test_bad_labels(lite_model, out_dir):
    with pytest.raises(ValueError, match="999 labels for a model with 1000 classes"):
        tflite.export_tflite(lite_model, out_dir / "m.tflite", labels=["x"] * 999)
    with pytest.raises(ValueError, match="line break"):
        tflite.export_tflite(lite_model, out_dir / "m.tflite", labels=["a\nb"] * 1000)
    with pytest.raises(ValueError, match="labels must be"):
        tflite.export_tflite(lite_model, out_dir / "m.tflite", labels="coco")
    assert _nothing_written(out_dir)


def test_imagenet_labels_need_1000_classes(out_dir):
    import keras_rexnet

    model = keras_rexnet.ReXNetV1Lite(1.0, classes=10)
    with pytest.raises(ValueError, match="labels='imagenet' needs 1000 outputs; the model has 10"):
        tflite.export_tflite(model, out_dir / "m.tflite")
    assert _nothing_written(out_dir)


def test_not_a_classifier(out_dir):
    import keras_rexnet

    model = keras_rexnet.ReXNetV1Lite(1.0, include_top=False)
    with pytest.raises(ValueError, match="one \\(batch, classes\\) output"):
        tflite.export_tflite(model, out_dir / "m.tflite")
    with pytest.raises(ValueError, match="input_size must be"):
        tflite.export_tflite(keras_rexnet.ReXNetV1Lite(1.0), out_dir / "m.tflite",
                             input_size=(16, 16))
    with pytest.raises(ValueError, match="does not match the model's fixed height"):
        tflite.export_tflite(keras_rexnet.ReXNetV1Lite(1.0, input_shape=(224, 224, 3)),
                             out_dir / "m.tflite", input_size=(192, 224))
    assert _nothing_written(out_dir)


@pytest.mark.parametrize("model, message", [
    ("rexnet_999", "not a model name"), ("weights.h5", "not a model name"),
    ("missing.keras", "no such file"), (3.5, "expected a keras.Model"),
])
def test_bad_model_argument(out_dir, model, message):
    with pytest.raises(ValueError, match=message):
        tflite.export_tflite(model, out_dir / "m.tflite")
    assert _nothing_written(out_dir)


def test_bad_metadata_fields(lite_model, out_dir):
    with pytest.raises(ValueError, match="unknown metadata fields"):
        tflite.export_tflite(lite_model, out_dir / "m.tflite", metadata={"owner": "me"})
    with pytest.raises(ValueError, match="metadata must be"):
        tflite.export_tflite(lite_model, out_dir / "m.tflite", metadata="yes")
    assert _nothing_written(out_dir)


def test_failure_during_writing_leaves_nothing(out_dir, monkeypatch):
    """A conversion that fails late (here: while packing metadata) leaves no file, and an
    existing file of the same name is untouched."""
    import keras

    import keras_rexnet.tflite.metadata as md

    inp = keras.Input((32, 32, 3))  # a small classifier: the failure comes after conversion
    h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inp))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(h))

    target = out_dir / "m.tflite"
    target.write_bytes(b"previous")

    def boom(*args, **kwargs):
        raise RuntimeError("metadata writer exploded")

    monkeypatch.setattr(md, "write_metadata", boom)
    with pytest.raises(RuntimeError, match="exploded"):
        tflite.export_tflite(model, target, labels=["a", "b", "c"])
    assert sorted(p.name for p in out_dir.iterdir()) == ["m.tflite"]
    assert target.read_bytes() == b"previous"


def test_int8_of_se_silu_model_warns_and_says_why(out_dir, monkeypatch, calibration):
    """ReXNetV1 (SE + SiLU) quantized to int8: a QuantizationWarning naming both, and why; the
    lite model (ReLU6, no SE) gets none. The conversion itself is stubbed here (slow test:
    test_rexnetv1_int8_converts)."""
    import keras_rexnet

    class Stop(Exception):
        pass

    def stub(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(ex, "_export_tflite_tf", stub)
    monkeypatch.setattr(ex, "_in_tensorflow_process", stub)
    v1 = keras_rexnet.ReXNetV1(1.0)
    with pytest.warns(tflite.QuantizationWarning) as caught, pytest.raises(Stop):
        tflite.export_tflite(v1, out_dir / "v1.tflite", quantization="int8",
                             representative_data=calibration[:4])
    message = str(caught[0].message)
    assert "squeeze-excitation" in message and "SiLU" in message
    sensitive = tflite.quantization_sensitive_layers(v1)
    se = sum("_se_" in n for n in sensitive)
    assert f"squeeze-excitation ({se} layers)" in message and se > 0
    assert f"SiLU/swish activations ({len(sensitive) - se} layers)" in message
    assert "ReXNetV1Lite" in message  # what to do instead
    # not for float16 and not for the lite model
    for model, q in ((v1, "float16"), (keras_rexnet.ReXNetV1Lite(1.0), "int8")):
        with warnings.catch_warnings():
            warnings.simplefilter("error", tflite.QuantizationWarning)
            with pytest.raises(Stop):
                tflite.export_tflite(model, out_dir / "x.tflite", quantization=q,
                                     representative_data=calibration[:4] if q == "int8" else None)


def test_quantization_sensitive_layers():
    import keras_rexnet

    v1 = tflite.quantization_sensitive_layers(keras_rexnet.ReXNetV1(1.0))
    assert "block3_se_reduce" in v1 and "stem_act" in v1  # SE layers and the SiLU stem
    assert tflite.quantization_sensitive_layers(keras_rexnet.ReXNetV1Lite(1.0)) == []
