"""What the exporter converts: the input normalization as one per-channel affine op."""

import numpy as np

from keras_rexnet import tflite
from keras_rexnet.tflite.export import fused_pixel_graph, with_preprocessing


def _predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


def test_fused_normalization_is_the_same_function(lite_model):
    import keras_rexnet

    x = tflite.sample_photos(4, size=64, seed=8).astype(np.float32)
    ref = _predict(lite_model, x)
    # at a fixed size the op sees pixel rows (H, 1, W*3); without one, or with rows=False,
    # the three channels
    forms = {"rows": (fused_pixel_graph(lite_model, input_size=(64, 64)),
                      ["image", "pixel_rows", "pixel_normalization", "pixel_normalized"]),
             "channels": (fused_pixel_graph(lite_model, input_size=(64, 64), rows=False),
                          ["image", "pixel_normalization"])}
    if lite_model.inputs[0].shape[1] is None:
        forms["any size"] = (fused_pixel_graph(lite_model), ["image", "pixel_normalization"])
    for form, (fused, head) in forms.items():
        names = [layer.name for layer in fused.layers]
        assert names[:len(head)] == head, form
        assert "rescaling" not in names and "normalization" not in names, form
        assert np.max(np.abs(_predict(fused, x) - ref)) <= 1e-5, form
    assert forms["rows"][0].get_layer("pixel_normalization").get_weights()[0].shape == \
        (1, 1, 64 * 3, 1)
    # a model without preprocessing gets it prepended, then fused the same way
    bare = keras_rexnet.ReXNetV1Lite(1.0, include_preprocessing=False, input_shape=(64, 64, 3),
                                     classifier_activation=None)
    wrapped = with_preprocessing(bare)
    y = tflite.sample_photos(4, size=64, seed=8).astype(np.float32)
    from keras_rexnet.imagenet import preprocess_input

    ref = _predict(bare, preprocess_input(y))
    assert np.max(np.abs(_predict(wrapped, y) - ref)) <= 1e-4
    assert np.max(np.abs(_predict(fused_pixel_graph(wrapped), y) - ref)) <= 1e-4


def test_unusual_graphs_are_left_alone():
    import keras

    import keras_rexnet

    # preprocessing inside a nested backbone: still "inside", converted as it is
    backbone = keras_rexnet.ReXNetV1Lite(1.0, include_top=False, pooling="avg",
                                         input_shape=(64, 64, 3))
    inp = keras.Input((64, 64, 3))
    model = keras.Model(inp, keras.layers.Dense(5, activation="softmax")(backbone(inp)))
    assert tflite.has_preprocessing(model)
    assert fused_pixel_graph(model) is model
    # the input also feeds another branch: no fusion
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255, name="rescaling")(inp)
    x = keras.layers.Normalization(mean=[0.5] * 3, variance=[0.1] * 3, name="normalization")(x)
    side = keras.layers.GlobalAveragePooling2D()(inp)
    x = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(x), side])
    model = keras.Model(inp, keras.layers.Dense(3)(x))
    assert fused_pixel_graph(model) is model
