"""Keras models equal the official PyTorch models, on this process's Keras backend."""

import numpy as np
import pytest

import keras_rexnet
from helpers import OFFICIAL, OFFICIAL_PARAMS, VECTORS, family_layout, official_state, predict
from keras_rexnet import spec as specs
from keras_rexnet.converters import oracle

BUILDERS = {"rexnet_v1": keras_rexnet.ReXNetV1, "rexnet_lite": keras_rexnet.ReXNetV1Lite}


def _logits_model(family, width, weights, **kwargs):
    return BUILDERS[family](width, weights=str(weights), include_preprocessing=False,
                            classifier_activation=None, **kwargs)


def _reference(spec, state, x_nhwc):
    """The NumPy oracle's logits (tests/common/test_oracle.py holds it to the official vectors
    and to timm)."""
    return oracle.predict(spec, state, family_layout(spec.family), x_nhwc)


@pytest.mark.parametrize("path", sorted(VECTORS.glob("*.npz")), ids=lambda p: p.stem)
def test_official_vectors(path, official_ckpt):
    v = np.load(path)
    name = str(v["manifest"])
    family, width = OFFICIAL[name]
    model = _logits_model(family, width, official_ckpt(name, int(v["weight_seed"])))
    logits = predict(model, v["input_nchw"].transpose(0, 2, 3, 1))
    assert np.abs(logits - v["logits"]).max() <= 1e-4


# The two configurations behind the official vectors run in both stages; the other nine (and all
# eleven at other input sizes, below) in the slow stage.
FAST_CONFIGURATIONS = {"rexnetv1_1.0", "rexnet_lite_1.0"}


@pytest.mark.parametrize("name", [n if n in FAST_CONFIGURATIONS else
                                  pytest.param(n, marks=pytest.mark.slow)
                                  for n in sorted(OFFICIAL)])
def test_official_configuration(name, official_ckpt):
    """Every official configuration: trainable parameters, and numbers on an odd, non-square
    input against the NumPy oracle."""
    family, width = OFFICIAL[name]
    model = _logits_model(family, width, official_ckpt(name))
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == OFFICIAL_PARAMS[name]
    x = np.random.default_rng(5).standard_normal((2, 45, 67, 3)).astype("float32")
    state = official_state(name)
    assert np.abs(predict(model, x) - _reference(specs.spec_for(family, width), state, x)).max() \
        <= 1e-4


SIZES = [(32, 32), (33, 47), (224, 224), (225, 199), (97, 160)]
# Each configuration at two of the five sizes, in turn: 22 cases, every size met four or five
# times and by both families (building a model, not the input size, is what costs time).
SIZE_CASES = [pytest.param(name, SIZES[(i + k) % len(SIZES)],
                           id=f"{name}-{SIZES[(i + k) % len(SIZES)][0]}x"
                              f"{SIZES[(i + k) % len(SIZES)][1]}")
              for i, name in enumerate(sorted(OFFICIAL)) for k in (0, 2)]


@pytest.mark.slow
@pytest.mark.parametrize("name,size", SIZE_CASES)
def test_official_configuration_sizes(name, size, official_ckpt):
    family, width = OFFICIAL[name]
    model = _logits_model(family, width, official_ckpt(name))
    x = np.random.default_rng(6).standard_normal((2, *size, 3)).astype("float32")
    state = official_state(name)
    assert np.abs(predict(model, x) - _reference(specs.spec_for(family, width), state, x)).max() \
        <= 1e-4


@pytest.mark.parametrize("family,width", [("rexnet_v1", 0.75), ("rexnet_v1", 1.1),
                                          ("rexnet_lite", 0.8), ("rexnet_lite", 1.2)])
def test_unpublished_widths(family, width, spec_ckpt):
    """Widths with no official file: the NumPy oracle (proven on the vectors and on timm)."""
    spec = specs.spec_for(family, width)
    path, state = spec_ckpt(spec, seed=7)
    model = _logits_model(family, width, path)
    x = np.random.default_rng(8).standard_normal((1, 35, 51, 3)).astype("float32")
    assert np.abs(predict(model, x) - _reference(spec, state, x)).max() <= 1e-4


@pytest.mark.parametrize("spec", [
    pytest.param(specs.rexnet_plain(0.5), id="plain"),
    pytest.param(specs.custom([24, 32, 40], [2, 1, 2], se=[False, True, True], activation="relu",
                              stem_channels=16, head_channels=64),
                 id="custom", marks=pytest.mark.slow)])
def test_unconverted_families_equal_the_oracle(spec):
    """Families no checkpoint layout is detected as (plain: no head conv, SiLU after the
    projection; custom): weights set through the official key table, compared with the oracle."""
    from helpers import seeded_state
    from keras_rexnet.converters.layouts import table

    model = keras_rexnet.build_from_spec(spec, classes=10, include_preprocessing=False,
                                         classifier_activation=None,
                                         kernel_initializer="zeros")  # no JAX compiles
    state = seeded_state(spec, "official_v1", seed=9, classes=10)
    for entry in table(spec, "official_v1", classes=10):
        model.get_layer(entry.layer).set_weights(
            entry.to_keras([state[k] for k, _ in entry.tensors()]))
    x = np.random.default_rng(10).standard_normal((2, 37, 33, 3)).astype("float32")
    expected = oracle.predict(spec, state, "official_v1", x)
    scale = max(1.0, float(np.abs(expected).max()))
    assert np.abs(predict(model, x) - expected).max() <= 1e-4 * scale


def test_include_preprocessing_equals_preprocess_input(official_ckpt):
    path = official_ckpt("rexnet_lite_1.0")
    raw = keras_rexnet.ReXNetV1Lite(1.0, weights=str(path), classifier_activation=None)
    norm = _logits_model("rexnet_lite", 1.0, path)
    pixels = np.random.default_rng(2).uniform(0, 255, (2, 40, 48, 3)).astype("float32")
    np.testing.assert_allclose(predict(raw, pixels),
                               predict(norm, keras_rexnet.preprocess_input(pixels)),
                               rtol=0, atol=1e-4)


def test_softmax_by_default(official_ckpt):
    model = keras_rexnet.ReXNetV1Lite(1.0, weights=str(official_ckpt("rexnet_lite_1.0")))
    probs = predict(model, np.full((1, 32, 32, 3), 128.0))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
