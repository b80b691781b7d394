"""Builder behaviour on this process's Keras backend: arguments, errors, saving, features."""

import numpy as np
import pytest

import keras
import keras_rexnet
from helpers import predict
from keras_rexnet import spec as specs


@pytest.fixture(scope="module")
def lite(official_ckpt):
    return keras_rexnet.ReXNetV1Lite(1.0, weights=str(official_ckpt("rexnet_lite_1.0")))


@pytest.fixture(scope="module")
def v1(official_ckpt):
    return keras_rexnet.ReXNetV1(1.0, weights=str(official_ckpt("rexnetv1_1.0")))


def test_layer_names_say_where_they_come_from(v1):
    names = {layer.name for layer in v1.layers}
    for name in ["rescaling", "normalization", "stem_conv", "stem_bn", "stem_act",
                 "block0_dw_conv", "block0_project_bn", "block3_expand_conv", "block3_dw_bn",
                 "block3_se_reduce", "block3_se_bn", "block3_se_expand", "block3_project_bn",
                 "head_conv", "head_bn", "avg_pool", "dropout", "predictions"]:
        assert name in names, name
    assert v1.get_layer("block3_dw_bn").epsilon == 1e-5
    assert v1.get_layer("block3_dw_bn").momentum == 0.9
    assert v1.get_layer("block3_se_reduce").use_bias
    strided = [layer for layer in v1.layers if getattr(layer, "strides", (1, 1)) != (1, 1)]
    assert strided and all(layer.padding == "valid" for layer in strided)
    # PyTorch's k // 2 on every side: the stem's ZeroPadding2D, the depthwise layers' own
    assert v1.get_layer("stem_conv_pad").padding == ((1, 1), (1, 1))
    assert v1.get_layer("block1_dw_conv").symmetric_padding == 1


@pytest.mark.parametrize("model_fixture", ["lite", "v1"])
def test_keras_round_trip(model_fixture, request, tmp_path):
    model = request.getfixturevalue(model_fixture)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 48, 3)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)  # no custom_objects
    np.testing.assert_allclose(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)


def test_weights_h5_round_trip(lite, tmp_path):
    path = tmp_path / "lite.weights.h5"
    lite.save_weights(path)
    again = keras_rexnet.ReXNetV1Lite(1.0, weights=str(path))
    x = np.random.default_rng(1).uniform(0, 255, (1, 32, 40, 3)).astype("float32")
    np.testing.assert_allclose(predict(again, x), predict(lite, x), rtol=0, atol=1e-6)


def test_no_top_pooling_shapes(official_ckpt):
    path = str(official_ckpt("rexnet_lite_1.0"))
    avg = keras_rexnet.ReXNetV1Lite(1.0, include_top=False, pooling="avg", weights=path)
    assert avg.output.shape == (None, 1280)
    mx = keras_rexnet.ReXNetV1Lite(1.0, include_top=False, pooling="max", weights=path)
    assert mx.output.shape == (None, 1280)
    fmap = keras_rexnet.ReXNetV1Lite(1.0, include_top=False, input_shape=(64, 96, 3), weights=path)
    assert fmap.output.shape == (None, 2, 3, 1280)
    x = np.random.default_rng(3).uniform(0, 255, (1, 64, 96, 3)).astype("float32")
    np.testing.assert_allclose(predict(avg, x), predict(fmap, x).mean(axis=(1, 2)), atol=1e-4)


def test_no_top_matches_full_model_features(official_ckpt, lite):
    avg = keras_rexnet.ReXNetV1Lite(1.0, include_top=False, pooling="avg",
                                    weights=str(official_ckpt("rexnet_lite_1.0")))
    pooled = keras.Model(lite.inputs, lite.get_layer("avg_pool").output)
    x = np.random.default_rng(4).uniform(0, 255, (1, 40, 40, 3)).astype("float32")
    np.testing.assert_allclose(predict(avg, x), predict(pooled, x), rtol=0, atol=1e-5)


def test_custom_classes_and_input_tensor():
    inp = keras.Input((48, 48, 3))
    model = keras_rexnet.ReXNetV1Lite(1.0, input_tensor=inp, classes=7, dropout_rate=0.0)
    assert model.output.shape == (None, 7)
    assert "dropout" not in {layer.name for layer in model.layers}


def test_dynamic_input_size(lite):
    assert lite.input.shape == (None, None, None, 3)
    for size in [(32, 32), (41, 77)]:
        assert predict(lite, np.zeros((1, *size, 3))).shape == (1, 1000)


@pytest.mark.parametrize("kwargs,match", [
    (dict(weights="model.txt"), "weights"),
    (dict(weights=3), "weights"),
    (dict(weights="imagenet", classes=10), "classes"),
    (dict(weights="imagenet", classifier_activation="relu"), "classifier_activation"),
    (dict(input_shape=(31, 224, 3)), "at least 32x32"),
    (dict(input_shape=(224, 16, 3)), "at least 32x32"),
    (dict(input_shape=(224, 224, 0)), "channels >= 1"),
    (dict(input_shape=(224, 224)), "height, width, channels"),
    (dict(include_top=False, pooling="sum"), "pooling"),
    (dict(classes=0), "classes"),
    (dict(width=0), "width"),
    (dict(dropout_rate=1.5), "dropout_rate"),
    (dict(weights="/nonexistent/file.pth"), "no such file"),
])
def test_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras_rexnet.ReXNetV1(**kwargs)


def test_width_mismatch_names_first_layer_and_shapes(official_ckpt):
    with pytest.raises(keras_rexnet.CheckpointError) as info:
        keras_rexnet.ReXNetV1(1.5, weights=str(official_ckpt("rexnetv1_1.0")))
    msg = str(info.value)
    assert "'stem_conv' (features.0.weight)" in msg
    assert "(32, 3, 3, 3) in the checkpoint" in msg and "expects (48, 3, 3, 3)" in msg
    assert "looks like rexnet_100" in msg
    assert isinstance(info.value, ValueError)


def test_classes_mismatch(official_ckpt):
    with pytest.raises(ValueError, match="'predictions' \\(output.4.weight\\)"):
        keras_rexnet.ReXNetV1Lite(1.0, classes=10, weights=str(official_ckpt("rexnet_lite_1.0")))


def test_family_mismatch(official_ckpt):
    with pytest.raises(ValueError, match="official ReXNetV1-lite checkpoint.*rexnet_v1 model"):
        keras_rexnet.ReXNetV1(1.0, weights=str(official_ckpt("rexnet_lite_1.0")))


def test_create_model_and_list_models(spec_ckpt):
    names = keras_rexnet.list_models()
    for n in ["rexnet_090", "rexnet_100", "rexnet_300", "rexnet_lite_100", "rexnet_lite_200",
              "rexnetr_100", "rexnetr_300"]:
        assert n in names
    assert keras_rexnet.list_models("rexnet_lite_*") == [
        "rexnet_lite_100", "rexnet_lite_130", "rexnet_lite_150", "rexnet_lite_200"]
    spec = specs.spec_by_name("rexnetr_100")
    path, _ = spec_ckpt(spec, "timm")
    model = keras_rexnet.create_model("rexnetr_100", weights=str(path))
    assert model.name == "rexnetr_100"
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 4_883_304  # timm's
    with pytest.raises(ValueError, match="unknown model"):
        keras_rexnet.create_model("resnet50")


def test_feature_extractor_strides(v1):
    feats = keras_rexnet.feature_extractor(v1)
    out = feats.predict(np.zeros((1, 64, 96, 3), "float32"), verbose=0)
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    spec = specs.rexnet_v1(1.0)
    ch = {s: spec.blocks[i].out_channels for s, i in spec.feature_blocks().items()}
    assert shapes == {"P2": (1, 16, 24, ch[4]), "P3": (1, 8, 12, ch[8]),
                      "P4": (1, 4, 6, ch[16]), "P5": (1, 2, 3, ch[32])}
