"""Who feeds whom in a Keras model, read through public APIs only.

A functional model's ``get_config()`` lists every layer with its calls (``inbound_nodes``) and,
for each call, the tensors it takes, each named by ``keras_history = [layer, node, index]``:
the format ``.keras`` files store, so Keras keeps it readable. Layers' private
``_inbound_nodes`` / ``_outbound_nodes`` would say the same, but they also count calls made in
other models that share the layer, and they may change in any release.
"""

import dataclasses

OUTPUT = "(model output)"  # the consumer that stands for the model's outputs


@dataclasses.dataclass
class Node:
    """One layer of a model's graph."""

    calls: int  # times the layer is called in this model (0: an input layer)
    inputs: list  # names of the layers whose outputs it takes, over all its calls, in order
    consumers: list  # names of the layers that take its outputs, one entry per use; OUTPUT


def connections(model):
    """``{layer name: Node}`` of ``model``'s own graph (a nested model is one layer).

    A ``Sequential`` model is a chain. Returns ``{}`` for a model whose config describes no
    graph (a subclassed model).
    """
    import keras

    config = model.get_config()
    layers = config.get("layers") if isinstance(config, dict) else None
    if not layers:
        return {}
    if isinstance(model, keras.Sequential):
        names = [c["config"]["name"] for c in layers]
        graph = {name: Node(calls=int(c["class_name"] != "InputLayer"), inputs=names[i - 1:i],
                            consumers=names[i + 1:i + 2])
                 for i, (name, c) in enumerate(zip(names, layers))}
        graph[names[-1]].consumers.append(OUTPUT)
        return graph
    if any("inbound_nodes" not in c for c in layers):
        return {}
    graph = {c["name"]: Node(calls=len(c["inbound_nodes"]), inputs=[], consumers=[])
             for c in layers}
    for c in layers:
        for call in c["inbound_nodes"]:
            for source in _tensor_sources(call):
                graph[c["name"]].inputs.append(source)
                graph[source].consumers.append(c["name"])
    for source in _history_names(config.get("output_layers")):
        graph[source].consumers.append(OUTPUT)
    return graph


def _tensor_sources(obj):
    """Names of the layers that made the serialized tensors in a call's args and kwargs."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            yield obj["config"]["keras_history"][0]
            return
        for value in obj.values():
            yield from _tensor_sources(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _tensor_sources(value)


def _history_names(obj):
    """Layer names in ``input_layers`` / ``output_layers``: ``[name, node, index]`` triples,
    alone or nested in lists and dicts."""
    if isinstance(obj, (list, tuple)) and len(obj) == 3 and isinstance(obj[0], str) \
            and all(isinstance(v, int) for v in obj[1:]):
        yield obj[0]
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _history_names(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _history_names(value)
