"""`keras-rexnet summary`'s numbers come from the spec (no Keras): they must be the Keras model's.

Parameters (``NetSpec.trainable_params``) and MACs (``macs.spec_macs``, layer by layer) against
the built Keras model (``trainable_weights``, ``count_macs``) for configurations of all three
families and the official counts; the fast set builds a few models, the slow one every name.
"""

import math

import pytest

from helpers import OFFICIAL, OFFICIAL_PARAMS
from keras_rexnet import spec as specs
from keras_rexnet.macs import spec_macs
from keras_rexnet.summary import model_row

# (spec, build kwargs, input size): odd sizes check the stride arithmetic of every stage.
FAST = [
    ("rexnet_100", {}, (224, 224)),
    ("rexnet_lite_130", {"classes": 10}, (97, 131)),
    ("rexnetr_300", {}, (64, 65)),  # ch_div 16
    ("rexnet_plain_100", {"classes": 5}, (33, 47)),
    ("v1_w0.75_notop", {"include_top": False}, (100, 75)),
    ("custom", {"classes": 3}, (40, 56)),
]


def _spec(key):
    if key in specs.MODEL_NAMES:
        return specs.spec_by_name(key)
    if key == "v1_w0.75_notop":
        return specs.rexnet_v1(0.75)
    if key == "custom":
        return specs.custom(specs.linear_channels(6, a=8, b=16), [1, 2, 1, 2, 1, 2],
                            se=[False, True, False, True, True, False], head_channels=256)
    family, width = OFFICIAL[key]
    return specs.spec_for(family, width)


def _keras_counts(spec, kwargs, size):
    """(trainable parameters, count_macs per-layer table) of the built Keras model."""
    import keras_rexnet

    model = keras_rexnet.build_from_spec(spec, input_shape=(*size, 3), kernel_initializer="zeros",
                                         **kwargs)
    params = sum(math.prod(w.shape) for w in model.trainable_weights)
    return params, keras_rexnet.count_macs(model, per_layer=True)


def _check(key, kwargs, size):
    spec = _spec(key)
    params, (macs, table) = _keras_counts(spec, kwargs, size)
    classes, top = kwargs.get("classes", 1000), kwargs.get("include_top", True)
    assert spec.trainable_params(classes=classes, include_top=top) == params
    got_total, got_table = spec_macs(spec, size, classes=classes, include_top=top, per_layer=True)
    assert got_table == table and got_total == macs
    if key in OFFICIAL_PARAMS:
        assert params == OFFICIAL_PARAMS[key]


@pytest.mark.parametrize("key,kwargs,size", FAST, ids=[f[0] for f in FAST])
def test_spec_counts_are_the_keras_models(key, kwargs, size):
    _check(key, kwargs, size)


@pytest.mark.parametrize("key", ["rexnetv1_1.0", "rexnet_lite_1.0"])
def test_official_params_of_the_keras_model(key):
    _check(key, {}, (224, 224))


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(OFFICIAL) + sorted(specs.MODEL_NAMES))
def test_every_configuration(key):
    _check(key, {"classes": 7} if key in specs.MODEL_NAMES else {}, (129, 161))


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_model_row_is_official(name):
    """The summary row of each official model, without Keras: the official parameter counts."""
    family, width = OFFICIAL[name]
    key = specs.default_name(specs.spec_for(family, width))
    row = model_row(key)
    assert row["params"] == OFFICIAL_PARAMS[name] and row["output"] == (None, 1000)
    assert row["macs"] == spec_macs(specs.spec_by_name(key))


def test_model_row_refuses_small_inputs():
    with pytest.raises(ValueError, match="at least 32x32"):
        model_row("rexnet_100", (31, 224))
    with pytest.raises(ValueError, match="unknown model 'resnet50'"):
        model_row("resnet50")
