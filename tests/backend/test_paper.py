"""ReXNet (plain), MAC counts and feature rank on this process's Keras backend."""

import numpy as np
import pytest

import keras
import keras_rexnet
from helpers import predict
from keras_rexnet import spec as specs
from keras_rexnet.analysis import feature_rank

# The official figures at 224x224 (issue 6), and the appendix reconstruction of the plain model.
OFFICIAL_MACS = {("rexnet_v1", 0.9): 347_691_428, ("rexnet_v1", 1.0): 398_370_392,
                 ("rexnet_v1", 1.3): 662_229_098, ("rexnet_v1", 1.5): 875_828_154,
                 ("rexnet_v1", 2.0): 1_528_850_782, ("rexnet_v1", 3.0): 3_395_980_620,
                 ("rexnet_lite", 1.0): 406_806_592, ("rexnet_lite", 2.0): 1_498_253_632,
                 ("rexnet_plain", 1.0): 564_669_040}


@pytest.mark.parametrize("family,width", sorted(OFFICIAL_MACS), ids=lambda v: str(v))
def test_macs_match_official(family, width):
    model = keras_rexnet.build_from_spec(specs.spec_for(family, width), input_shape=(224, 224, 3),
                                         kernel_initializer="zeros")
    macs = keras_rexnet.count_macs(model)
    assert abs(macs - OFFICIAL_MACS[(family, width)]) <= 0.005 * OFFICIAL_MACS[(family, width)]


def test_macs_of_a_dynamic_model_use_input_size():
    model = keras_rexnet.build_from_spec(specs.rexnet_lite(1.0), kernel_initializer="zeros")
    assert keras_rexnet.count_macs(model) == OFFICIAL_MACS[("rexnet_lite", 1.0)]
    total, per_layer = keras_rexnet.count_macs(model, input_size=(112, 112), per_layer=True)
    assert total == sum(per_layer.values())
    assert per_layer["stem_conv"] == 56 * 56 * 3 * 3 * 3 * 32


def test_plain_params_fit_and_round_trip(tmp_path):
    model = keras_rexnet.ReXNetPlain(1.0, input_shape=(32, 32, 3), classes=5)
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert params == specs.rexnet_plain(1.0).trainable_params(classes=5)
    full = keras_rexnet.build_from_spec(specs.rexnet_plain(1.0), kernel_initializer="zeros")
    assert sum(int(np.prod(w.shape)) for w in full.trainable_weights) == 3_399_240
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    loss = model.fit(x, np.array([0, 1, 2, 3]), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(loss.history["loss"][0])
    path = tmp_path / "plain.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)


def test_feature_rank_against_numpy_svd():
    model = keras_rexnet.ReXNetV1Lite(1.0, input_shape=(64, 64, 3))  # random init
    images = np.random.default_rng(1).uniform(0, 255, (4, 64, 64, 3)).astype("float32")
    layers = ["block2_add", "block15_project_bn", "head_act"]
    result = feature_rank(model, images, layers=layers)
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in layers])
    for name, feats in zip(layers, probe.predict(images, verbose=0)):
        m = np.asarray(feats, np.float64).reshape(-1, feats.shape[-1])
        r = result[name]
        assert r["rank"] == np.linalg.matrix_rank(m)
        assert 0 < r["rank_ratio"] <= 1
        np.testing.assert_allclose(r["nuclear_norm"], np.linalg.norm(m, "nuc"), rtol=1e-6)
    # head_act of 4 images at 2x2: 16 samples for 1280 channels -> rank <= 16
    assert result["head_act"]["rank"] <= 16


def test_feature_rank_default_layers_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    from keras_rexnet.analysis import plot_singular_values

    model = keras_rexnet.ReXNetPlain(1.0, input_shape=(32, 32, 3))
    result = feature_rank(model, np.zeros((2, 32, 32, 3)) + 100.0)
    assert list(result)[:2] == ["block0_project_act", "block1_project_act"]
    ax = plot_singular_values({k: result[k] for k in list(result)[:3]})
    assert len(ax.get_lines()) == 3
    with pytest.raises(ValueError, match="no layers"):
        feature_rank(model, np.zeros((1, 32, 32, 3)), layers=["nope"])


@pytest.mark.slow
def test_custom_design_space_model_trains():
    net = specs.custom(specs.linear_channels(9, a=8.75, b=24), [1, 2, 1, 2, 1, 2, 1, 2, 1],
                       se=True, head_channels=256, stem_channels=16)
    model = keras_rexnet.build_from_spec(net, input_shape=(32, 32, 3), classes=10)
    assert model.get_layer("block8_project_bn").output.shape[-1] == 94
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == \
        net.trainable_params(classes=10)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    assert np.isfinite(model.fit(x, np.array([1, 2]), verbose=0).history["loss"][0])
