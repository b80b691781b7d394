"""Transfer learning with ReXNet backbones, following Keras' transfer-learning guide.

1. Build: the backbone without its classifier (``include_top=False, pooling="avg"``) and
   a new head, in one flat functional graph (it exports to TFLite and ONNX as it is).
2. Train the new head with the backbone frozen.
3. Unfreeze the backbone and train everything with a lower learning rate, its
   BatchNorm layers kept frozen: in Keras 3 a BatchNormalization layer with
   ``trainable=False`` runs in inference mode, so the pretrained statistics stay intact.
   (Keras 3's outer model passes its own ``training`` flag to a nested model, so calling
   a nested backbone with ``training=False`` alone would not keep BatchNorm in inference mode.)
"""

import keras


def build_classifier(backbone="rexnet_lite_100", num_classes=10, input_shape=(224, 224, 3),
                     weights=None, dropout_rate=0.2):
    """``(model, backbone)``: a new classifier head on a ReXNet backbone.

    ``backbone``: a model name (``keras_rexnet.list_models()``), built into the same
    graph as the head, or a headless model (``include_top=False, pooling="avg"``), nested.
    ``weights`` go to the backbone builder.
    """
    from keras_rexnet.model import create_model

    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if isinstance(backbone, str):
        inputs = keras.Input(shape=input_shape, name="image")
        base = create_model(backbone, include_top=False, pooling="avg", weights=weights,
                            input_tensor=inputs)
        x = base.output
    else:
        base = backbone
        if len(base.output.shape) != 2:
            raise ValueError("a backbone model must output pooled features (include_top=False, "
                             f"pooling='avg'); got output shape {base.output.shape}")
        inputs = keras.Input(shape=base.input.shape[1:], name="image")
        x = base(inputs, training=False)
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, name="head_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=f"{base.name}_transfer"), base


def fine_tune(model, backbone, train_data, validation_data=None, head_epochs=3, full_epochs=3,
              head_learning_rate=1e-3, full_learning_rate=1e-4, batch_size=32, verbose="auto",
              callbacks=None):
    """Train the head with ``backbone`` frozen, then everything at a lower learning rate.

    ``train_data`` / ``validation_data``: ``(x, y)`` tuples (integer labels) or datasets.
    Returns ``{"head": History, "full": History}`` (``"full"`` absent with ``full_epochs=0``).
    """
    def fit(epochs):
        kwargs = dict(validation_data=validation_data, epochs=epochs, verbose=verbose,
                      callbacks=callbacks)
        if isinstance(train_data, tuple):
            return model.fit(train_data[0], train_data[1], batch_size=batch_size, shuffle=True,
                             **kwargs)
        return model.fit(train_data, **kwargs)

    histories = {}
    backbone.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(head_learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    histories["head"] = fit(head_epochs)
    if full_epochs:
        backbone.trainable = True
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        model.compile(optimizer=keras.optimizers.Adam(full_learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        histories["full"] = fit(full_epochs)
    return histories
