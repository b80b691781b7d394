import numpy as np
import pytest

import keras_rexnet
from keras_rexnet.imagenet import class_index


def test_class_index_ships_with_the_package():
    index = class_index()
    assert len(index) == 1000
    assert index[0][0] == "n01440764" and index[0][1].startswith("tench")
    assert len({s for s, _ in index}) == 1000


def test_decode_predictions():
    preds = np.zeros((2, 1000), "float32")
    preds[0, 1], preds[0, 0] = 0.9, 0.1
    preds[1, 999] = 1.0
    decoded = keras_rexnet.decode_predictions(preds, top=2)
    assert decoded[0] == [("n01443537", "goldfish", pytest.approx(0.9)),
                          ("n01440764", "tench", pytest.approx(0.1))]
    assert decoded[1][0][0] == class_index()[999][0]
    with pytest.raises(ValueError, match="shape"):
        keras_rexnet.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="top"):
        keras_rexnet.decode_predictions(preds, top=0)


def test_preprocess_input():
    x = np.array([[[[0, 127.5, 255]]]], "float32")
    out = keras_rexnet.preprocess_input(x)
    expected = (np.array([0, 0.5, 1.0]) - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(out[0, 0, 0], expected, rtol=1e-6)
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="RGB"):
        keras_rexnet.preprocess_input(np.zeros((4, 4, 4)))
