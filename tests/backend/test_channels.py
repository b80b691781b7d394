"""channels_first models and any number of input channels, on this process's Keras backend.

A channels_first model holds the same weights as its channels_last twin (Keras kernels do not
depend on the layout) and must give the same numbers; an input of other than 3 channels builds
and trains from scratch, and pretrained weights are adapted to it as timm's ``adapt_input_conv``
does. ``keras.config.set_image_data_format`` is global: every test that sets it restores it.
"""

import contextlib

import numpy as np
import pytest

import keras
import keras_rexnet
from helpers import (OFFICIAL, VECTORS, family_layout, predict, seeded_state,
                     timm_checkpoint)
from keras_rexnet import spec as specs
from keras_rexnet.converters.layouts import table
from keras_rexnet.model import convert_data_format, model_data_format

# The fast stage: a small network of the ReXNetV1 design (SE blocks, partial shortcuts, strided
# depthwise convolutions, a feature map at each stride 4-32); the families are in the slow stage.
SMALL = specs.custom([16, 24, 32, 40, 48, 56], [2, 1, 2, 2, 2, 1],
                     se=[False, True, True, False, True, True], stem_channels=16,
                     head_channels=64)
SIZE = 64
TINY = specs.custom([16, 24], [2, 2], se=[False, True], stem_channels=8, head_channels=32)


@contextlib.contextmanager
def image_data_format(data_format):
    """Keras' global image data format set to ``data_format`` within, restored after."""
    old = keras.config.image_data_format()
    keras.config.set_image_data_format(data_format)
    try:
        yield
    finally:
        keras.config.set_image_data_format(old)


@pytest.fixture
def channels_first():
    with image_data_format("channels_first"):
        yield


def _layout(spec):
    return family_layout(spec.family) if spec.family in ("rexnet_v1", "rexnet_lite") \
        else "official_v1"


def _seeded(spec, seed=3, classes=10, **kwargs):
    """A logits model of ``spec`` with seeded weights and BatchNorm statistics (the official
    key table; no random initializer runs, so JAX compiles nothing for the build)."""
    kwargs = {"include_preprocessing": False, **kwargs}
    model = keras_rexnet.build_from_spec(spec, classes=classes, classifier_activation=None,
                                         kernel_initializer="zeros", **kwargs)
    state = seeded_state(spec, _layout(spec), seed, classes)
    for entry in table(spec, _layout(spec), classes):
        model.get_layer(entry.layer).set_weights(
            entry.to_keras([state[k] for k, _ in entry.tensors()]))
    return model


def _nchw(x):
    return np.ascontiguousarray(np.asarray(x).transpose(0, 3, 1, 2))


def _nhwc(x):
    return np.asarray(x).transpose(0, 2, 3, 1)


def _close(a, b, tol=1e-5):
    """max |a - b| within ``tol`` times the reference's scale (at least 1)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    err = float(np.abs(a - b).max())
    assert err <= tol * max(1.0, float(np.abs(b).max())), err


@pytest.fixture(scope="module")
def pair():
    """The small model in both formats, the same weights: (channels_last, channels_first)."""
    last = _seeded(SMALL, data_format="channels_last")
    with image_data_format("channels_first"):  # the builders follow the global format
        first = _seeded(SMALL)
    return last, first


def test_channels_first_model_equals_channels_last(pair):
    last, first = pair
    assert model_data_format(first) == "channels_first"
    assert first.input.shape == (None, 3, None, None)
    assert first.get_layer("block1_dw_bn").axis in (1, -3)
    assert first.get_layer("block1_add").data_format == "channels_first"
    x = np.random.default_rng(0).standard_normal((2, SIZE, SIZE, 3)).astype("float32")

    def probe(model):  # the logits and every feature map (feature_extractor), in one run
        feats = keras_rexnet.feature_extractor(model).output
        return keras.Model(model.input, [model.output] + [feats[k] for k in sorted(feats)])

    a, b = probe(first).predict(_nchw(x), verbose=0), probe(last).predict(x, verbose=0)
    _close(a[0], b[0])
    for fa, fb in zip(a[1:], b[1:]):  # P2 ... P5
        assert fa.shape[1] == fb.shape[-1]  # channels on axis 1
        _close(_nhwc(fa), fb)


def test_convert_data_format(pair):
    """channels_first -> channels_last (what the TFLite/ONNX exports do first); the other
    way in the slow stage."""
    last, first = pair
    x = np.random.default_rng(1).standard_normal((1, 48, 40, 3)).astype("float32")
    to_last = convert_data_format(first, "channels_last")
    assert model_data_format(to_last) == "channels_last" and to_last.input.shape[-1] == 3
    assert convert_data_format(last, "channels_last") is last
    _close(predict(to_last, x), predict(last, x))


@pytest.mark.slow
def test_convert_data_format_to_channels_first(pair):
    last, _ = pair
    x = np.random.default_rng(1).standard_normal((1, 48, 40, 3)).astype("float32")
    to_first = convert_data_format(last, "channels_first")
    assert model_data_format(to_first) == "channels_first"
    _close(predict(to_first, _nchw(x)), predict(last, x))
    folded = convert_data_format(keras_rexnet.fold_batchnorm(last), "channels_first")
    _close(predict(folded, _nchw(x)), predict(last, x))


def test_channels_first_keras_round_trip(pair, tmp_path):
    _, first = pair
    path = tmp_path / "first.keras"
    first.save(path)
    loaded = keras.saving.load_model(path, compile=False)  # under the default channels_last
    assert keras.config.image_data_format() == "channels_last"
    assert model_data_format(loaded) == "channels_first"
    x = np.random.default_rng(2).standard_normal((2, 3, 40, 56)).astype("float32")
    np.testing.assert_allclose(predict(loaded, x), predict(first, x), rtol=0, atol=1e-6)


def test_fold_and_macs_in_channels_first(pair):
    last, first = pair
    x = np.random.default_rng(3).standard_normal((2, SIZE, SIZE, 3)).astype("float32")
    assert keras_rexnet.count_macs(first, (SIZE, SIZE)) == keras_rexnet.count_macs(last,
                                                                                  (SIZE, SIZE))
    folded = keras_rexnet.fold_batchnorm(first)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    _close(predict(folded, _nchw(x)), predict(last, x))


@pytest.mark.slow
def test_inference_function_in_channels_first(pair):
    last, first = pair
    x = np.random.default_rng(3).standard_normal((2, SIZE, SIZE, 3)).astype("float32")
    _close(keras_rexnet.inference_function(first)(_nchw(x)), predict(last, x))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_partial_shortcut_on_the_channel_axis(data_format):
    from keras_rexnet.layers import PartialShortcut

    rng = np.random.default_rng(4)
    out, inp = (rng.standard_normal((2, 5, 6, 7)).astype("float32"),
                rng.standard_normal((2, 5, 6, 4)).astype("float32"))
    expected = out.copy()
    expected[..., :4] += inp
    layer = PartialShortcut(data_format=data_format)
    if data_format == "channels_first":
        got = _nhwc(keras.ops.convert_to_numpy(layer([_nchw(out), _nchw(inp)])))
    else:
        got = keras.ops.convert_to_numpy(layer([out, inp]))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert PartialShortcut.from_config(layer.get_config()).data_format == data_format
    # files saved before the layer had a data_format were channels last
    assert PartialShortcut.from_config({"name": "old"}).data_format == "channels_last"


@pytest.mark.parametrize("strides,padding", [((1, 1), "same"), ((2, 2), "valid"),
                                             ((1, 2), "same"), ((2, 1), "valid")])
def test_depthwise_conv_channels_first_equals_channels_last(strides, padding):
    """Both formats, on this backend's path (JAX: shifted sums in either layout; TensorFlow:
    shifted sums for unequal strides)."""
    from keras_rexnet.layers import DepthwiseConv2D

    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 11, 13, 6)).astype("float32")
    kernel = rng.standard_normal((3, 3, 6, 1)).astype("float32")
    bias = rng.standard_normal(6).astype("float32")
    outs = {}
    for fmt in ("channels_last", "channels_first"):
        layer = DepthwiseConv2D(3, strides=strides, padding=padding, use_bias=True,
                                data_format=fmt)
        xin = _nchw(x) if fmt == "channels_first" else x
        layer.build(xin.shape)
        layer.set_weights([kernel, bias])
        y = keras.ops.convert_to_numpy(layer(xin))
        outs[fmt] = _nhwc(y) if fmt == "channels_first" else y
    np.testing.assert_allclose(outs["channels_first"], outs["channels_last"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("channels,data_format", [
    (1, "channels_first"),
    pytest.param(4, "channels_first", marks=pytest.mark.slow),
    pytest.param(1, "channels_last", marks=pytest.mark.slow),
    pytest.param(4, "channels_last", marks=pytest.mark.slow)])
def test_any_number_of_channels_builds_and_trains(channels, data_format):
    first = data_format == "channels_first"
    shape = (channels, 32, 32) if first else (32, 32, channels)
    with image_data_format(data_format):
        model = keras_rexnet.build_from_spec(TINY, classes=3, input_shape=shape,
                                             kernel_initializer="he_normal")
    names = {layer.name for layer in model.layers}
    assert "rescaling" in names and "normalization" not in names  # rescale only: no RGB
    assert model.get_layer("stem_conv").kernel.shape[2] == channels
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 255, (4, *shape)).astype("float32")
    y = np.array([0, 1, 2, 0])
    before = model.get_layer("stem_conv").get_weights()[0].copy()
    loss = model.train_on_batch(x, y)
    assert np.isfinite(float(np.asarray(loss).reshape(-1)[0]))
    assert not np.allclose(model.get_layer("stem_conv").get_weights()[0], before)


def test_three_channels_keep_the_imagenet_normalization(channels_first):
    model = keras_rexnet.build_from_spec(TINY, classes=3, input_shape=(3, 32, 32),
                                         kernel_initializer="zeros")
    norm = model.get_layer("normalization")
    assert norm.axis in (1, (1,), [1])
    x = np.random.default_rng(7).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    pre = keras.Model(model.input, norm.output)
    np.testing.assert_allclose(predict(pre, _nchw(x)), keras_rexnet.preprocess_input(_nchw(x)),
                               rtol=0, atol=1e-5)  # channels_first, from the global setting
    np.testing.assert_allclose(_nhwc(predict(pre, _nchw(x))),
                               keras_rexnet.preprocess_input(x, "channels_last"), rtol=0, atol=1e-5)


def test_builders_keep_their_argument_checks():
    for kwargs, match in [(dict(input_shape=(224, 224, 0)), "channels >= 1"),
                          (dict(input_shape=(224, 224, None)), "channels >= 1"),
                          (dict(weights="imagenet", classes=10), "classes")]:
        with pytest.raises(ValueError, match=match):
            keras_rexnet.ReXNetV1(**kwargs)
    with image_data_format("channels_first"):
        with pytest.raises(ValueError, match=r"\(channels, height, width\)"):
            keras_rexnet.ReXNetV1(input_shape=(224, 224))
        with pytest.raises(ValueError, match="at least 32x32"):
            keras_rexnet.ReXNetV1(input_shape=(3, 16, 224))


def test_adapt_input_conv_is_timms():
    import torch
    from timm.models._manipulate import adapt_input_conv as timm_adapt

    from keras_rexnet.weights import adapt_input_conv

    w = np.random.default_rng(8).standard_normal((5, 3, 3, 3)).astype("float32")  # OIHW
    for chans in (1, 2, 3, 4, 7):
        ours = adapt_input_conv(chans, w.transpose(2, 3, 1, 0))  # HWIO
        theirs = timm_adapt(chans, torch.from_numpy(w.copy())).numpy().transpose(2, 3, 1, 0)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


@pytest.mark.parametrize("channels,data_format", [
    (1, "channels_last"),
    pytest.param(4, "channels_last", marks=pytest.mark.slow),
    pytest.param(1, "channels_first", marks=pytest.mark.slow),
    pytest.param(4, "channels_first", marks=pytest.mark.slow)])
def test_adapted_checkpoint_equals_timm_in_chans(channels, data_format, tmp_path):
    """A timm checkpoint loaded into a ``channels``-channel model equals timm's own model
    created with ``in_chans=channels`` from the same file (timm adapts the stem as it loads)."""
    import timm
    import torch

    path, _ = timm_checkpoint("rexnet_100", tmp_path)
    theirs = timm.create_model("rexnet_100", pretrained=True, in_chans=channels,
                               pretrained_cfg_overlay=dict(file=str(path))).eval()
    first = data_format == "channels_first"
    shape = (channels, 64, 72) if first else (64, 72, channels)
    with image_data_format(data_format):
        ours = keras_rexnet.create_model("rexnet_100", weights=str(path), input_shape=shape,
                                         include_preprocessing=False, classifier_activation=None)
    x = np.random.default_rng(9).standard_normal((2, channels, 64, 72)).astype("float32")
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    got = predict(ours, x if first else _nhwc(x))
    assert ours.get_layer("stem_conv").kernel.shape[2] == channels
    assert np.abs(got - expected).max() <= 1e-4


def test_saved_keras_weights_adapt_to_other_channels(tmp_path):
    """The ``weights="imagenet"`` and Hub path: a saved 3-channel model's weights go into a
    4-channel model through its twin, the stem adapted (sum / repeat, as timm)."""
    from keras_rexnet.weights import adapt_input_conv, load_saved_model_weights

    source = _seeded(TINY, classes=5, include_preprocessing=True)
    path = tmp_path / "tiny.weights.h5"
    source.save_weights(path)
    for channels in (1, 4):
        model = keras_rexnet.build_from_spec(TINY, classes=5, input_shape=(32, 32, channels),
                                             kernel_initializer="zeros",
                                             classifier_activation=None)
        load_saved_model_weights(model, TINY, path, classes=5)
        np.testing.assert_array_equal(
            model.get_layer("stem_conv").get_weights()[0],
            adapt_input_conv(channels, source.get_layer("stem_conv").get_weights()[0]))
        np.testing.assert_array_equal(model.get_layer("predictions").get_weights()[0],
                                      source.get_layer("predictions").get_weights()[0])


def test_verify_in_channels_first(channels_first):
    """The converter's layer-by-layer verification of a channels_first model."""
    from keras_rexnet.converters.verify import verify_model

    model = _seeded(SMALL)
    state = seeded_state(SMALL, _layout(SMALL), 3, 10)
    report = verify_model(model, SMALL, state, _layout(SMALL), input_size=(SIZE, SIZE))
    assert report.passed, report.table()
    assert report.layers[0].shape[1] == SMALL.stem_channels  # NCHW in the report


# --- breadth: the slow stage -------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("spec", [specs.spec_for("rexnet_v1", 1.0),
                                  specs.spec_for("rexnet_lite", 1.0),
                                  specs.rexnet_plain(1.0)], ids=["v1", "lite", "plain"])
def test_every_family_channels_first_equals_channels_last(spec):
    last = _seeded(spec, seed=4, data_format="channels_last")
    first = _seeded(spec, seed=4, data_format="channels_first")
    x = np.random.default_rng(10).standard_normal((2, 96, 80, 3)).astype("float32")
    _close(predict(first, _nchw(x)), predict(last, x))


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(VECTORS.glob("*.npz")), ids=lambda p: p.stem)
def test_official_vectors_in_channels_first(path, official_ckpt, channels_first):
    v = np.load(path)
    name = str(v["manifest"])
    family, width = OFFICIAL[name]
    builder = {"rexnet_v1": keras_rexnet.ReXNetV1, "rexnet_lite": keras_rexnet.ReXNetV1Lite}
    model = builder[family](width, weights=str(official_ckpt(name, int(v["weight_seed"]))),
                            include_preprocessing=False, classifier_activation=None)
    assert model_data_format(model) == "channels_first"
    logits = predict(model, v["input_nchw"])
    assert np.abs(logits - v["logits"]).max() <= 1e-4


@pytest.mark.slow
def test_tflite_from_channels_first_is_nhwc(tmp_path):
    """Phones take NHWC: a channels_first model exports as its channels_last twin would (from
    any backend: on JAX and torch the conversion runs in a TensorFlow process)."""
    from keras_rexnet import tflite

    first = _seeded(SMALL, data_format="channels_first", include_preprocessing=True)
    last = convert_data_format(first, "channels_last")
    with pytest.warns(tflite.AndroidCompatibilityWarning, match="TENSOR_AXIS_LABELS"):
        out = tflite.export_tflite(first, tmp_path / "first.tflite", input_size=(SIZE, SIZE),
                                   labels=None)  # no label file: the warning says so
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(out))
    assert tuple(interp.get_input_details()[0]["shape"]) == (1, SIZE, SIZE, 3)
    pixels = np.random.default_rng(11).uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")
    got = tflite.run_tflite(out, pixels)
    _close(got, predict(last, pixels), tol=1e-4)


def test_save_pretrained_of_a_one_channel_channels_first_model(tmp_path):
    """save_pretrained records a channels_first, 1-channel model's layout (height, width,
    channels) and its channel count; its weights load into a channels_last 1-channel model
    (and, adapted, into a 3-channel one) with the same outputs."""
    import json

    from keras_rexnet.weights import load_saved_model_weights

    source = _seeded(TINY, classes=5)
    path = tmp_path / "tiny.weights.h5"
    source.save_weights(path)
    with image_data_format("channels_first"):
        gray = keras_rexnet.build_from_spec(TINY, classes=5, input_shape=(1, 32, 40),
                                            include_preprocessing=False,
                                            classifier_activation=None,
                                            kernel_initializer="zeros")
        load_saved_model_weights(gray, TINY, path, classes=5, include_preprocessing=False)
        keras_rexnet.save_pretrained(gray, tmp_path / "hub", spec=TINY)
    config = json.loads((tmp_path / "hub" / "config.json").read_text())
    assert config["keras_rexnet"]["input_shape"] == [32, 40, 1]
    assert config["keras_rexnet"]["in_chans"] == 1
    assert config["pretrained_cfg"]["input_size"] == [1, 32, 40]
    last = keras_rexnet.build_from_spec(TINY, classes=5, input_shape=(32, 40, 1),
                                        include_preprocessing=False, classifier_activation=None,
                                        kernel_initializer="zeros")
    load_saved_model_weights(last, TINY, tmp_path / "hub" / "model.weights.h5", classes=5,
                             include_preprocessing=False, channels=1)
    x = np.random.default_rng(4).standard_normal((2, 32, 40, 1)).astype("float32")
    np.testing.assert_allclose(predict(last, x), predict(gray, _nchw(x)), rtol=0, atol=1e-5)
    rgb = keras_rexnet.build_from_spec(TINY, classes=5, input_shape=(32, 40, 3),
                                       include_preprocessing=False, classifier_activation=None,
                                       kernel_initializer="zeros")
    load_saved_model_weights(rgb, TINY, tmp_path / "hub" / "model.weights.h5", classes=5,
                             include_preprocessing=False, channels=1)
    assert rgb.get_layer("stem_conv").get_weights()[0].shape[2] == 3
