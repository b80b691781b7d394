"""check_android: the Task Library ImageClassifier's rules (rule_violations), each shown to fire
on a file that breaks it (tiny models keep the conversions fast) and to stay quiet on files that
keep them; exported files are also loaded in MediaPipe Tasks and the Task Library
(tests/tflite/test_runtimes.py compares their scores)."""


import numpy as np
import pytest

from keras_rexnet import tflite
from keras_rexnet.tflite.metadata import write_metadata

LABELS = [f"class {i}" for i in range(10)]
rules = tflite.android.rule_violations


def _tiny(preprocessing=True, classes=10, output_rank=2):
    import keras

    inp = keras.Input((32, 32, 3), name="image")
    x = inp
    if preprocessing:
        x = keras.layers.Rescaling(1 / 255, name="rescaling")(x)
        x = keras.layers.Normalization(mean=[0.5] * 3, variance=[0.25] * 3,
                                       name="normalization")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(keepdims=output_rank == 4, name="pool")(x)
    if output_rank == 3:
        x = keras.layers.Reshape((1, 8))(x)
    x = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inp, x, name="tiny")


@pytest.fixture(scope="module")
def tiny():
    import keras

    keras.utils.set_random_seed(3)
    return _tiny()


def _fields(**kw):
    base = dict(name="tiny", description="d", version="1", author="a", license="l",
                input_description="i", output_description="o")
    base.update(kw)
    return base


def _convert(model, batch=1, **kwargs):
    """Convert without the exporter (no metadata), straight through Keras' LiteRT export."""
    import tempfile

    import keras

    h, w = model.inputs[0].shape[1:3]
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/m.tflite"
        model.export(path, format="litert", verbose=False, input_signature=[
            keras.InputSpec(shape=(batch, h, w, 3), dtype="float32", name="image")], **kwargs)
        with open(path, "rb") as f:
            return f.read()


def _int8_options(images=None):
    import tensorflow as tf

    def data():
        if images is not None:
            for image in images:
                yield [image[None].astype(np.float32)]
            return
        rng = np.random.default_rng(0)
        for _ in range(8):
            yield [rng.uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)]

    return dict(optimizations=[tf.lite.Optimize.DEFAULT], representative_dataset=data,
                target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]})


def _int8(model, io_type, images=None):
    import tensorflow as tf

    dtype = {"uint8": tf.uint8, "int8": tf.int8}[io_type]
    return _convert(model, inference_input_type=dtype, inference_output_type=dtype,
                    **_int8_options(images))


def _has(violations, *fragments):
    return any(all(f in v for f in fragments) for v in violations)


def test_exported_tiny_files_pass(tiny, tmp_path, calibration):
    from keras_rexnet.tflite.calibration import fit_image

    data = np.stack([fit_image(c, (32, 32)) for c in calibration[:16]])
    for q in (None, "float16", "dynamic", "int8"):
        path = tflite.export_tflite(tiny, tmp_path / f"tiny_{q}.tflite", quantization=q,
                                    labels=LABELS, representative_data=data if q == "int8" else None)
        assert tflite.check_android(path) == [], q


def test_no_metadata(tiny, tmp_path):
    with pytest.warns(tflite.AndroidCompatibilityWarning, match="NormalizationOptions"):
        path = tflite.export_tflite(tiny, tmp_path / "bare.tflite", labels=LABELS, metadata=False)
    v = tflite.check_android(path)
    assert _has(v, "no TFLITE_METADATA")
    assert _has(v, "float32", "NormalizationOptions")


def test_uint8_input_needs_no_normalization_but_labels(tiny):
    buf = _int8(tiny, "uint8")
    assert rules(buf) == ["no TFLITE_METADATA: the Task Library needs input "
                                         "normalization (for float input) and the label file "
                                         "from the model's metadata"]
    with_labels = write_metadata(buf, norm_mean=None, norm_std=None, labels=LABELS, **_fields())
    assert rules(with_labels) == []


def test_labels(tiny):
    buf = _convert(tiny)
    ok = write_metadata(buf, norm_mean=[0], norm_std=[1], labels=LABELS, **_fields())
    assert rules(ok) == []
    v = rules(write_metadata(buf, norm_mean=[0], norm_std=[1], labels=None,
                                            **_fields()))
    assert v == ["output 0 metadata has no TENSOR_AXIS_LABELS file"]
    v = rules(write_metadata(buf, norm_mean=[0], norm_std=[1], labels=LABELS[:9],
                                            **_fields()))
    assert v == ["label file 'labels.txt' has 9 lines but output 0 has 10 classes"]


def test_normalization_options(tiny):
    buf = _convert(tiny)
    v = rules(write_metadata(buf, norm_mean=None, norm_std=None, labels=LABELS,
                                            **_fields()))
    assert len(v) == 1 and _has(v, "float32 but the metadata has no NormalizationOptions")
    v = rules(write_metadata(buf, norm_mean=[1, 2], norm_std=[3, 4],
                                            labels=LABELS, **_fields()))
    assert _has(v, "only 1 or 3 mean and std values")
    ok = write_metadata(buf, norm_mean=[1, 2, 3], norm_std=[3, 4, 5], labels=LABELS, **_fields())
    assert rules(ok) == []


def test_int8_io_is_rejected(tiny):
    buf = write_metadata(_int8(tiny, "int8"), norm_mean=[0], norm_std=[1], labels=LABELS,
                         **_fields())
    v = tflite.check_android(buf)  # the runtimes refuse it too, in their own words
    assert _has(v, "MediaPipe Tasks ImageClassifier refuses the file: ")
    assert _has(v, "TFLite Task Library 0.4.4 ImageClassifier refuses the file: ")
    assert _has(v, "input", "is int8; the Task Library takes uint8 or float32")
    assert _has(v, "output 0", "is int8; expected uint8 or float32")


def test_batch_and_shape_rules(tiny):
    buf = write_metadata(_convert(tiny, batch=2), norm_mean=[0], norm_std=[1], labels=LABELS,
                         **_fields())
    v = rules(buf)
    assert _has(v, "is 2x32x32x3; it must be 1 x height x width x 3")
    assert _has(v, "output 0 has batch size 2")
    # a [1, 1, 1, N] output is fine; a [1, 1, N] one is not
    rank4 = write_metadata(_convert(_tiny(output_rank=4)), norm_mean=[0], norm_std=[1],
                           labels=LABELS, **_fields())
    assert rules(rank4) == []
    rank3 = write_metadata(_convert(_tiny(output_rank=3)), norm_mean=[0], norm_std=[1],
                           labels=LABELS, **_fields())
    assert rules(rank3) == ["output 0 has 3 dimensions; expected [1, N] or "
                                           "[1, 1, 1, N]"]


def test_dynamic_size_is_rejected():
    """A file whose input size is not fixed (the exporter always fixes it)."""
    import keras

    inp = keras.Input((None, None, 3), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax")(x))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        model.export(f"{tmp}/m.tflite", format="litert", verbose=False, input_signature=[
            keras.InputSpec(shape=(1, None, None, 3), dtype="float32", name="image")])
        with open(f"{tmp}/m.tflite", "rb") as f:
            buf = f.read()
    buf = write_metadata(buf, norm_mean=[0], norm_std=[1], labels=LABELS, **_fields())
    assert _has(rules(buf), "no fixed positive height and width")


def test_not_a_tflite_file(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a TFLite model"):
        tflite.check_android(bad)
    with pytest.raises(ValueError, match="no such file"):
        tflite.check_android(tmp_path / "missing.tflite")


def test_int8_input_is_pinned_to_pixels(tiny, tmp_path, calibration):
    """Calibrating on dark images gives the converter an input range below 255; the exporter
    declares the uint8 input as the pixel itself (scale 1, zero point 0) and the file still
    matches the float model on in-range images."""
    from keras_rexnet.tflite.calibration import fit_image
    from keras_rexnet.tflite.evaluate import reference_outputs

    data = np.stack([fit_image(c, (32, 32)) for c in calibration[:32]]) // 2  # max 127
    unpinned = tmp_path / "unpinned.tflite"
    unpinned.write_bytes(_int8(tiny, "uint8", data))  # the converter alone
    raw = tflite.read_model(unpinned).inputs[0]
    assert abs(raw.scale[0] - 0.5) < 0.02  # 127 / 255: pixel p would read as p / 2
    path = tflite.export_tflite(tiny, tmp_path / "dark.tflite", quantization="int8",
                                labels=LABELS, representative_data=data)
    info = tflite.read_model(path)
    assert info.inputs[0].scale == (1.0,) and info.inputs[0].zero_point == (0,)
    out = tflite.run_tflite(path, data.astype(np.float32))
    ref = reference_outputs(tiny, data.astype(np.float32))
    err = np.max(np.abs(out - ref))
    # the converter's own file, fed pixels as an app does, reads them wrongly
    err_unpinned = np.max(np.abs(tflite.run_tflite(unpinned, data.astype(np.float32)) - ref))
    print(f"\nmax |diff| pinned {err:.4f}, unpinned {err_unpinned:.4f}")
    assert err < 0.05 and err_unpinned > 3 * err
