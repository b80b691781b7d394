"""The architecture spec against ARCHITECTURE.md, the official manifests and timm."""

import json

import pytest

from helpers import MANIFESTS, OFFICIAL, OFFICIAL_PARAMS, family_layout, manifest_for
from keras_rexnet import spec as specs



@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_spec_params_match_official(name):
    family, width = OFFICIAL[name]
    assert specs.spec_for(family, width).trainable_params() == OFFICIAL_PARAMS[name]
    assert json.loads((MANIFESTS / f"{name}.json").read_text())["parameters"] == \
        OFFICIAL_PARAMS[name]


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_official_key_table_is_the_manifest(name):
    """Every key, shape and their order, generated from the spec, equal the official file's."""
    family, width = OFFICIAL[name]
    manifest = json.loads((MANIFESTS / f"{name}.json").read_text())
    want = [(k, list(s)) for k, s, _ in manifest["tensors"] if not k.endswith("num_batches_tracked")]
    got = [(k, s) for k, s, _ in manifest_for(specs.spec_for(family, width),
                                               family_layout(family))["tensors"]]
    assert got == want


def test_plain_matches_appendix():
    plain = specs.rexnet_plain(1.0)
    assert plain.trainable_params() == 3_399_240
    assert [b.out_channels for b in plain.blocks] == [96 + 48 * i for i in range(12)] + [1024]
    assert [b.stride for b in plain.blocks] == list(specs.PLAIN_STRIDES)
    assert not any(b.shortcut or b.se_channels for b in plain.blocks)


def test_rexnet_v1_channels_by_formula():
    """ReXNetV1 1.0 written out from ARCHITECTURE.md's formulas, independently of spec.py."""
    s = specs.rexnet_v1(1.0)
    p, outs = 16.0, []
    for _ in range(16):
        p += 180 / 16
        outs.append(int(round(p)))
    assert [b.out_channels for b in s.blocks] == [16] + outs[:-1]
    assert s.blocks[0].in_channels == 32 and s.head.channels == 1280
    assert [b.stride for b in s.blocks] == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1]
    assert [bool(b.se_channels) for b in s.blocks] == [False] * 3 + [True] * 13
    assert all(b.se_channels == b.hidden_channels // 12 for b in s.blocks if b.se_channels)


def test_lite_uses_n_minus_one_rule():
    s = specs.rexnet_lite(1.0)
    assert s.stem_channels == 32 and s.blocks[0].out_channels == 16
    assert s.blocks[-1].out_channels == specs.make_divisible(int(round(16 + 164)))
    assert s.num_features == 1280 and s.head.prelogits_channels == 1024
    assert specs.rexnet_lite(2.0).num_features == 2560


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "1.0", None, True])
def test_bad_width_is_a_value_error(bad):
    with pytest.raises(ValueError, match="width"):
        specs.rexnet_v1(bad)


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown model 'rexnet_999'.*rexnet_100"):
        specs.spec_by_name("rexnet_999")


def test_feature_blocks_are_last_block_per_stride():
    assert specs.rexnet_v1(1.0).feature_blocks() == {2: 0, 4: 2, 8: 4, 16: 10, 32: 15}


TIMM_NAMES = ["rexnet_100", "rexnet_130", "rexnet_150", "rexnet_200", "rexnet_300",
              "rexnetr_100", "rexnetr_130", "rexnetr_150", "rexnetr_200", "rexnetr_300"]


@pytest.mark.parametrize("name", TIMM_NAMES)
def test_timm_key_table_is_timms_state_dict(name):
    """timm is an independent implementation: its keys and shapes equal our timm table."""
    import timm

    model = timm.create_model(name, pretrained=False)
    want = [(k, list(v.shape)) for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")]
    got = [(k, s) for k, s, _ in manifest_for(specs.spec_by_name(name), "timm")["tensors"]]
    assert sorted(got) == sorted(want)
