"""Multiply-accumulate counting (what the ReXNet paper calls FLOPs)."""

import math

import keras


def _static(model, input_size):
    shape = tuple(model.input.shape[1:])
    if all(d is not None for d in shape):
        return model
    h, w = input_size
    return keras.models.clone_model(model, input_tensors=keras.Input((h, w, shape[-1])))


def count_macs(model, input_size=(224, 224), per_layer=False):
    """Multiply-accumulates of all convolutions and dense layers for one image.

    Uses the model's own input size when it has one, else ``input_size``
    (height, width). With ``per_layer=True`` returns ``(total, {layer name: macs})``.
    Batch norms, activations, pooling and the SE gate multiply are not counted,
    as in the official figures.
    """
    model = _static(model, input_size)
    table = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            kh, kw = layer.kernel_size
            table[layer.name] = h * w * kh * kw * c
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, cout = layer.output.shape
            cin = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            table[layer.name] = h * w * kh * kw * (cin // layer.groups) * cout
        elif isinstance(layer, keras.layers.Dense):
            spatial = math.prod(layer.input.shape[1:-1])
            table[layer.name] = spatial * layer.input.shape[-1] * layer.units
    total = int(sum(table.values()))
    return (total, table) if per_layer else total
