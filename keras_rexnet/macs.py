"""Multiply-accumulate counting (what the ReXNet paper calls FLOPs).

:func:`count_macs` counts a built Keras model; :func:`spec_macs` computes the same table from a
:class:`keras_rexnet.spec.NetSpec` alone, without Keras (the ``keras-rexnet summary`` command).
"""

import math


def _static(model, input_size):
    import keras

    from keras_rexnet.model import model_data_format

    shape = tuple(model.input.shape[1:])
    if all(d is not None for d in shape):
        return model
    h, w = input_size
    if model_data_format(model) == "channels_first":
        return keras.models.clone_model(model, input_tensors=keras.Input((shape[0], h, w)))
    return keras.models.clone_model(model, input_tensors=keras.Input((h, w, shape[-1])))


def _hwc(layer, shape):
    """``(height, width, channels)`` of a 4-D shape in ``layer``'s data format."""
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return shape[2], shape[3], shape[1]
    return shape[1], shape[2], shape[3]


def count_macs(model, input_size=(224, 224), per_layer=False):
    """Multiply-accumulates of all convolutions and dense layers for one image.

    Uses the model's own input size when it has one, else ``input_size``
    (height, width). With ``per_layer=True`` returns ``(total, {layer name: macs})``.
    Batch norms, activations, pooling and the SE gate multiply are not counted,
    as in the official figures.
    """
    import keras

    model = _static(model, input_size)
    table = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            h, w, c = _hwc(layer, layer.output.shape)
            kh, kw = layer.kernel_size
            table[layer.name] = h * w * kh * kw * c
        elif isinstance(layer, keras.layers.Conv2D):
            h, w, cout = _hwc(layer, layer.output.shape)
            cin = _hwc(layer, layer.input.shape)[2]
            kh, kw = layer.kernel_size
            table[layer.name] = h * w * kh * kw * (cin // layer.groups) * cout
        elif isinstance(layer, keras.layers.Dense):
            spatial = math.prod(layer.input.shape[1:-1])
            table[layer.name] = spatial * layer.input.shape[-1] * layer.units
    total = int(sum(table.values()))
    return (total, table) if per_layer else total


def _out_side(size, kernel, stride):
    """Output side of the builders' convolutions: "same" at stride 1, else pad k // 2 + valid."""
    if stride == 1:
        return size
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def spec_macs(spec, input_size=(224, 224), classes=1000, include_top=True, per_layer=False):
    """:func:`count_macs` of ``build_from_spec(spec, ...)``, computed from the spec alone.

    Same layer names and the same rules (convolutions and dense layers only); pure Python.
    ``input_size``: (height, width). With ``per_layer=True`` returns ``(total, {name: macs})``.
    """
    h, w = (int(s) for s in input_size)
    table = {}
    k, s = 3, spec.stem_stride
    h, w = _out_side(h, k, s), _out_side(w, k, s)
    table["stem_conv"] = h * w * k * k * spec.in_channels * spec.stem_channels
    for b in spec.blocks:
        p = f"block{b.index}"
        if b.has_expand:
            table[f"{p}_expand_conv"] = h * w * b.in_channels * b.hidden_channels
        h, w = _out_side(h, b.kernel_size, b.stride), _out_side(w, b.kernel_size, b.stride)
        table[f"{p}_dw_conv"] = h * w * b.kernel_size ** 2 * b.hidden_channels
        if b.se_channels:  # 1x1 convolutions on the pooled 1x1 map
            table[f"{p}_se_reduce"] = b.hidden_channels * b.se_channels
            table[f"{p}_se_expand"] = b.se_channels * b.hidden_channels
        table[f"{p}_project_conv"] = h * w * b.hidden_channels * b.out_channels
    if spec.head.channels is not None:
        table["head_conv"] = h * w * spec.blocks[-1].out_channels * spec.head.channels
    if include_top:
        if spec.head.prelogits_channels:
            table["prelogits_conv"] = spec.num_features * spec.head.prelogits_channels
        table["predictions"] = spec.classifier_in * classes
    total = sum(table.values())
    return (total, table) if per_layer else total
