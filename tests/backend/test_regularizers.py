"""Stochastic depth (``drop_path_rate``, :class:`keras_rexnet.DropPath`) and mixed precision on
this process's Keras backend: the identity at inference, random per sample in training, a
``.keras`` round trip, a training step with finite results (the DropPath seed state updated
inside the compiled step), and a training step under ``mixed_bfloat16`` / ``mixed_float16``
with a float32 classifier output.

The fast tests train a small network of the same blocks (``spec.custom``: SE, partial
shortcuts, the depthwise layer, the preprocessing layers); the published ReXNetV1 / lite
networks train in the slow stage.
"""

import numpy as np
import pytest

import keras
import keras_rexnet
from keras_rexnet import spec as specs
from keras_rexnet.layers import DropPath

HALF = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _small_spec():
    """Two blocks with SE: a strided one, then one with a partial shortcut (16 of 24 channels)
    that gets the full drop-path rate. Small, because on JAX every op of an eager call and
    every compiled step costs compile time."""
    return specs.custom([16, 24], [2, 1], expansion=2, se=True, stem_channels=16,
                        head_channels=64)


def _small_model(seed=0, **kwargs):
    """The small network with seeded random weights (set from NumPy: on JAX a random
    initializer compiles once per shape, which costs more than the test)."""
    model = keras_rexnet.build_from_spec(_small_spec(), input_shape=(64, 64, 3), classes=5,
                                         kernel_initializer="zeros", **kwargs)
    rng = np.random.default_rng(seed)
    model.set_weights([
        rng.uniform(0.5, 1.5, w.shape) if w.path.endswith(("gamma", "moving_variance"))
        else rng.normal(0, 0.3, w.shape) for w in model.weights])
    return model


def _images(n=2, size=64, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def _labels(n, classes, seed=0):
    return np.eye(classes, dtype="float32")[np.random.default_rng(seed).integers(0, classes, n)]


@pytest.fixture
def policy():
    """Sets a global dtype policy for one test and always restores the previous one."""
    previous = keras.config.dtype_policy()
    try:
        yield keras.config.set_dtype_policy
    finally:
        keras.config.set_dtype_policy(previous)


def test_drop_path_layer_drops_whole_samples_and_scales_by_keep():
    layer = DropPath(0.5, seed=3)
    x = np.ones((64, 4, 4, 3), "float32")
    np.testing.assert_array_equal(_np(layer(x)), x)  # inference (training=False) is identity
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)
    out = _np(layer(x, training=True))
    per_sample = out.reshape(64, -1)
    assert set(np.unique(per_sample)) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / 0.5
    assert (per_sample == per_sample[:, :1]).all()  # one draw per sample
    assert 10 < (per_sample[:, 0] == 0).sum() < 54  # Binomial(64, 0.5): far inside
    again = _np(layer(x, training=True))
    assert not np.array_equal(out, again)  # the seed generator moved on
    clone = DropPath.from_config(layer.get_config())
    assert (clone.rate, clone.seed, clone.name) == (0.5, 3, layer.name)
    assert keras.saving.get_registered_object("keras_rexnet>DropPath") is DropPath
    assert layer.weights == [] and len(layer.non_trainable_variables) == 1  # seed state only
    for bad in (1.0, -0.1, "0.1", True):
        with pytest.raises(ValueError, match="DropPath `rate`"):
            DropPath(bad)


def test_rates_rise_linearly_as_in_timm():
    spec = specs.spec_for("rexnet_v1", 1.0)
    model = keras_rexnet.build_from_spec(spec, drop_path_rate=0.2, input_shape=(64, 64, 3),
                                         kernel_initializer="zeros")
    n = len(spec.blocks)
    rates = {layer.name: layer.rate for layer in model.layers if isinstance(layer, DropPath)}
    # timm: block i gets drop_path_rate * i / (n_blocks - 1), used by blocks with a shortcut
    assert rates == {f"block{b.index}_drop_path": pytest.approx(0.2 * b.index / (n - 1))
                     for b in spec.blocks if b.shortcut}
    assert len(rates) == 11
    plain = keras_rexnet.build_from_spec(spec, input_shape=(64, 64, 3),
                                         kernel_initializer="zeros")
    assert not [layer for layer in plain.layers if isinstance(layer, DropPath)]
    assert len(model.layers) == len(plain.layers) + len(rates)
    assert keras_rexnet.count_macs(model) == keras_rexnet.count_macs(plain)
    with pytest.raises(ValueError, match="drop_path_rate"):
        keras_rexnet.create_model("rexnet_100", drop_path_rate=1.0)


def _check_equal_at_inference_random_in_training(plain, model, tmp_path):
    """``model`` (rate > 0, given ``plain``'s weights) computes ``plain``'s outputs at inference,
    random ones in training, and round-trips through ``.keras``."""
    model.set_weights(plain.get_weights())
    x = _images(4)
    reference = _np(plain(x, training=False))
    np.testing.assert_array_equal(_np(model(x, training=False)), reference)
    first, second = _np(model(x, training=True)), _np(model(x, training=True))
    assert np.isfinite(first).all() and np.isfinite(second).all()
    assert np.abs(first - second).max() > 1e-4  # random in training
    path = tmp_path / "dp.keras"
    model.save(path)  # (the training calls moved the BatchNorm statistics: a new reference)
    loaded = keras.saving.load_model(path, compile=False)  # no custom_objects
    assert [(la.name, la.rate) for la in loaded.layers if isinstance(la, DropPath)] == \
        [(la.name, la.rate) for la in model.layers if isinstance(la, DropPath)]
    np.testing.assert_array_equal(_np(loaded(x, training=False)), _np(model(x, training=False)))


def test_drop_path_equals_rate_0_at_inference_and_round_trips(tmp_path):
    _check_equal_at_inference_random_in_training(
        _small_model(), _small_model(seed=1, drop_path_rate=0.3), tmp_path)


@pytest.mark.slow
def test_rexnet_with_drop_path_equals_rate_0_at_inference_and_round_trips(official_ckpt,
                                                                           tmp_path):
    ckpt = str(official_ckpt("rexnetv1_1.0"))
    plain = keras_rexnet.ReXNetV1(width=1.0, input_shape=(64, 64, 3), weights=ckpt)
    model = keras_rexnet.ReXNetV1(width=1.0, drop_path_rate=0.2, input_shape=(64, 64, 3),
                                  weights=ckpt)  # the converter fills a drop-path model too
    _check_equal_at_inference_random_in_training(plain, model, tmp_path)


def _trained_step(model, x, y):
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss="categorical_crossentropy")
    before = [_np(v).copy() for v in model.trainable_variables]
    losses = [float(np.asarray(model.train_on_batch(x, y))) for _ in range(2)]
    after = [_np(v) for v in model.trainable_variables]
    return losses, before, after


def test_drop_path_training_step_has_finite_gradients_and_moves_the_seed():
    keras.utils.set_random_seed(0)
    model = _small_model(drop_path_rate=0.3)
    drops = [layer for layer in model.layers if isinstance(layer, DropPath)]
    assert [(d.name, d.rate) for d in drops] == [("block1_drop_path", 0.3)]
    seeds = [_np(d.seed_generator.state).copy() for d in drops]
    losses, before, after = _trained_step(model, _images(4), _labels(4, 5))
    assert np.isfinite(losses).all()
    assert all(np.isfinite(w).all() for w in after)
    # every kernel and BN scale learns (a bias just before a BatchNorm has no gradient)
    still = [v.path for v, b, a in zip(model.trainable_variables, before, after)
             if v.path.endswith(("kernel", "gamma")) and np.array_equal(b, a)]
    assert not still, still
    # the seed state is a layer variable, advanced inside the compiled train step
    assert all(not np.array_equal(s, _np(d.seed_generator.state)) for s, d in zip(seeds, drops))


def test_deploy_paths_accept_drop_path():
    model = _small_model(drop_path_rate=0.3)
    x = _images(2)
    expected = _np(model(x, training=False))
    folded = keras_rexnet.fold_batchnorm(model)
    np.testing.assert_allclose(_np(folded(x, training=False)), expected, atol=1e-5)
    np.testing.assert_allclose(keras_rexnet.inference_function(model)(x), expected, atol=1e-5)


@pytest.mark.parametrize("name", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_training_step(name, policy):
    policy(name)
    keras.utils.set_random_seed(0)
    model = _small_model(drop_path_rate=0.2)
    assert keras.config.dtype_policy().name == name
    half = HALF[name]
    for layer in ("normalization", "stem_conv", "block1_dw_conv", "block1_se_excite",
                  "block1_drop_path", "block1_add"):
        assert model.get_layer(layer).compute_dtype == half, layer
        assert keras.backend.standardize_dtype(model.get_layer(layer).output.dtype) == half
    assert model.get_layer("predictions").compute_dtype == "float32"
    assert all(keras.backend.standardize_dtype(v.dtype) == "float32" for v in model.weights)
    assert keras.backend.standardize_dtype(model.output.dtype) == "float32"
    x, y = _images(2), _labels(2, 5)
    losses, before, after = _trained_step(model, x, y)
    if name == "mixed_float16":  # Keras scales the loss for float16 gradients
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.isfinite(losses).all(), losses
    assert all(np.isfinite(w).all() for w in after)
    assert any(not np.array_equal(b, a) for b, a in zip(before, after))
    out = model.predict_on_batch(x)  # compiled: on JAX cheaper than an eager call
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    np.testing.assert_allclose(np.asarray(out).sum(-1), 1.0, atol=1e-5)  # a float32 softmax


def test_float32_policy_builds_the_same_classifier(policy):
    policy("float32")
    model = keras_rexnet.build_from_spec(_small_spec(), input_shape=(64, 64, 3), classes=5)
    assert model.get_layer("predictions").get_config()["dtype"] == \
        model.get_layer("stem_conv").get_config()["dtype"]


@pytest.mark.slow
@pytest.mark.parametrize("builder", ["ReXNetV1", "ReXNetV1Lite"])
def test_published_network_trains_with_drop_path(builder):
    keras.utils.set_random_seed(0)
    model = getattr(keras_rexnet, builder)(width=1.0, drop_path_rate=0.2,
                                           input_shape=(64, 64, 3))
    losses, _, after = _trained_step(model, _images(2), _labels(2, 1000))
    assert np.isfinite(losses).all() and all(np.isfinite(w).all() for w in after)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("builder", ["ReXNetV1", "ReXNetV1Lite"])
def test_published_network_trains_in_mixed_precision(builder, name, policy):
    policy(name)
    keras.utils.set_random_seed(0)
    model = getattr(keras_rexnet, builder)(width=1.0, drop_path_rate=0.1,
                                           input_shape=(64, 64, 3))
    x, y = _images(2), _labels(2, 1000)
    assert keras.backend.standardize_dtype(model(x).dtype) == "float32"
    losses, _, after = _trained_step(model, x, y)
    assert np.isfinite(losses).all() and all(np.isfinite(w).all() for w in after)
