"""The transfer-learning recipe on this backend: frozen head phase, then full fine-tuning."""

import numpy as np

import keras_rexnet  # noqa: F401
from keras_rexnet import datasets, transfer


def test_recipe_freezes_then_unfreezes_and_keeps_bn_statistics(official_ckpt):
    (xt, yt), (xv, yv) = datasets.digits(32)
    model, backbone = transfer.build_classifier(
        "rexnet_lite_100", 10, input_shape=(32, 32, 3),
        weights=str(official_ckpt("rexnet_lite_1.0")))
    kernel = backbone.get_layer("block5_expand_conv")
    bn = backbone.get_layer("block5_expand_bn")
    k0, mean0 = np.array(kernel.kernel), np.array(bn.moving_mean)
    head0 = np.array(model.get_layer("classifier").kernel)
    hist = transfer.fine_tune(model, backbone, (xt[:256], yt[:256]), (xv[:64], yv[:64]),
                              head_epochs=1, full_epochs=0, verbose=0)
    assert set(hist) == {"head"}
    np.testing.assert_array_equal(np.array(kernel.kernel), k0)  # frozen
    assert not np.array_equal(np.array(model.get_layer("classifier").kernel), head0)
    hist = transfer.fine_tune(model, backbone, (xt[:256], yt[:256]), None, head_epochs=0,
                              full_epochs=1, verbose=0)
    assert np.isfinite(hist["full"].history["loss"][-1])
    assert not np.array_equal(np.array(kernel.kernel), k0)  # trained after unfreezing
    np.testing.assert_array_equal(np.array(bn.moving_mean), mean0)  # BN in inference mode


def test_digits_split_is_real_and_held_out():
    (xt, yt), (xv, yv) = datasets.digits(32)
    assert xt.shape[1:] == (32, 32, 3) and xt.dtype == np.uint8
    assert len(xt) + len(xv) == 1797 and set(np.unique(yv)) == set(range(10))
    assert xt.max() == 255 and xt.min() == 0
