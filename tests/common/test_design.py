"""The paper's design space: channel parameterizations and custom configurations."""

import pytest

from keras_rexnet import spec as specs


def test_table3b_best_model_from_a_b():
    assert specs.linear_channels(9, a=8.75, b=24) == [24, 33, 42, 50, 59, 68, 77, 85, 94]


def test_table3c_best_model_from_a_b():
    assert specs.linear_channels(9, a=14.5, b=30) == [30, 45, 59, 74, 88, 103, 117, 132, 146]


def test_table3d_best_model_piecewise():
    f = specs.piecewise((0, 0), (2.75, 0), (12, 9.25))
    assert specs.linear_channels(13, a=24, b=34, f=f) == [
        34, 34, 34, 40, 64, 88, 112, 136, 160, 184, 208, 232, 256]


def test_stagewise_baseline_is_mobilenetv2():
    channels = specs.stagewise_channels(specs.MOBILENETV2_STAGES)
    assert channels == [16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320]
    net = specs.custom(channels, specs.MOBILENETV2_STRIDES, activation="relu6", se=False)
    assert len(net.blocks) == 17 and net.blocks[1].hidden_channels == 16 * 6
    assert [b.shortcut for b in net.blocks][:3] == [False, False, True]


def test_published_family_is_an_instance_of_the_design_space():
    v1 = specs.rexnet_v1(1.0)
    again = specs.custom([b.out_channels for b in v1.blocks], [b.stride for b in v1.blocks],
                         se=[bool(b.se_channels) for b in v1.blocks], stem_channels=32,
                         head_channels=1280)
    assert again.blocks == v1.blocks
    assert again.trainable_params() == v1.trainable_params()


@pytest.mark.parametrize("kwargs,match", [
    (dict(channels=[8, 16], strides=[1]), "one stride per block"),
    (dict(channels=[8, 0], strides=[1, 1]), "positive"),
    (dict(channels=[8, 16], strides=[1, 3]), "strides 1 or 2"),
    (dict(channels=[8, 16], strides=[1, 2], se=[True]), "one bool per block"),
])
def test_custom_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        specs.custom(**kwargs)


def test_linear_channels_validation():
    with pytest.raises(ValueError, match="non-positive"):
        specs.linear_channels(3, a=-10, b=5)
