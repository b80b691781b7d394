"""keras_rexnet.graph.connections: who feeds whom, read from the model's public config."""

import keras

from keras_rexnet.graph import OUTPUT, connections


def test_connections_of_a_functional_graph():
    """Calls, inputs and consumers of a graph with a branch, a shared layer, a layer that feeds
    the output and another layer, and a nested model. If a Keras release changes the config
    format (inbound_nodes, keras_history), this fails here, not quietly in fold_batchnorm."""
    inner_in = keras.Input((4,), name="inner_in")
    inner = keras.Model(inner_in, keras.layers.Dense(4, name="inner_dense")(inner_in),
                        name="inner")
    inp = keras.Input((8, 8, 3), name="image")
    conv = keras.layers.Conv2D(4, 1, name="conv")(inp)
    bn = keras.layers.BatchNormalization(name="bn")(conv)
    shared = keras.layers.GlobalAveragePooling2D(name="pool")
    a, b = shared(bn), shared(conv)  # called twice; conv feeds bn and the second call
    x = keras.layers.Add(name="add")([a, b])
    out = inner(x)
    model = keras.Model(inp, [out, a], name="m")
    g = connections(model)
    assert g["image"].calls == 0 and g["image"].inputs == [] and g["image"].consumers == ["conv"]
    assert g["conv"].calls == 1 and g["conv"].consumers == ["bn", "pool"]
    assert g["bn"].inputs == ["conv"] and g["bn"].consumers == ["pool"]
    assert g["pool"].calls == 2 and g["pool"].inputs == ["bn", "conv"]
    assert sorted(g["pool"].consumers) == sorted(["add", "add", OUTPUT])
    assert g["add"].inputs == ["pool", "pool"] and g["add"].consumers == ["inner"]
    assert g["inner"].calls == 1 and g["inner"].consumers == [OUTPUT]
    assert "inner_dense" not in g  # a nested model is one layer
    # a dict of outputs (as feature_extractor makes) counts too
    feats = keras.Model(inp, {"P1": bn, "P2": a})
    g = connections(feats)
    assert g["bn"].consumers == ["pool", OUTPUT]


def test_connections_of_a_sequential_model():
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 1, name="c"),
                              keras.layers.BatchNormalization(name="b")])
    g = connections(model)
    (first,) = [name for name, node in g.items() if node.calls == 0]
    assert g[first].consumers == ["c"]
    assert g["c"].inputs == [first] and g["c"].consumers == ["b"] and g["c"].calls == 1
    assert g["b"].consumers == [OUTPUT]
