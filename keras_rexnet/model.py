"""Keras functional builders for the ReXNet families, read off :mod:`keras_rexnet.spec`.

Only ``keras.layers`` and ``keras.ops``: the same code runs on TensorFlow, JAX and
PyTorch. Layer names say where each layer comes from (``stem_conv``,
``block3_dw_bn``, ``block3_se_reduce``, ``head_conv``, ``predictions``), and the
checkpoint mappings in :mod:`keras_rexnet.converters` use the same names.
"""

import os
import pathlib

import keras
from keras import layers

from keras_rexnet import spec as specs
from keras_rexnet.files import CHECKPOINT_SUFFIXES, KERAS_WEIGHTS_SUFFIX, is_checkpoint
from keras_rexnet.layers import (Activation, BatchNormalization, Conv2D, DepthwiseConv2D,
                                 DropPath, PartialShortcut)

BN_EPSILON = 1e-5  # PyTorch's default, as in the official models
BN_MOMENTUM = 0.9  # PyTorch momentum 0.1
MIN_SIZE = 32

BASE_DOCSTRING = """Instantiates the {title} architecture.

Reference:
- [Rethinking Channel Dimensions for Efficient Model Design](https://arxiv.org/abs/2007.00992)
  (CVPR 2021), and the official NAVER code.

The model follows `keras.applications` conventions. With
`include_preprocessing=True` (the default) it takes RGB pixels in `[0, 255]` and
normalizes them with the ImageNet mean and std inside the model; with `False` it
takes what `keras_rexnet.preprocess_input` returns. An input with other than 3
channels (grayscale, multispectral bands) is only rescaled by `1/255` inside the
model, as `keras.applications.EfficientNetV2` does.

The layout follows `keras.config.image_data_format()` when the model is built:
`"channels_last"` (NHWC, the default) or `"channels_first"` (NCHW, where
`input_shape` is `(channels, height, width)`); the numbers are the same.

Args:
    width: the width multiplier{width_note}.
    include_top: whether to include the classifier on top.
    weights: `None` (random initialization), `"imagenet"` (pretrained weights,
        downloaded and converted once), the path to a `{keras_weights}` file saved
        from the same architecture, or the path to a PyTorch checkpoint
        ({checkpoints}; official or timm layout),
        converted on the fly without running any code from the file, or
        `"hf://ORG/REPO"` / `"hf://ORG/REPO/FILE"` (a Hugging Face Hub repository holding
        such a file; see `keras_rexnet.save_pretrained`).
    input_tensor: optional Keras tensor to use as the model's input.
    input_shape: optional `(height, width, channels)` (`(channels, height, width)` for
        channels first); `None` builds a 3-channel model for any image size. Sides
        smaller than 32 are refused. Any number of channels >= 1: with pretrained
        weights or a checkpoint and other than 3 channels, the stem kernel is adapted
        as timm's `adapt_input_conv` does (summed over RGB for 1 channel; else RGB
        repeated and scaled by `3 / channels`).
    pooling: with `include_top=False`: `None` (4-D feature map), `"avg"` or `"max"`.
    classes: number of classes when `include_top=True`.
    classifier_activation: activation of the `predictions` layer (`None` gives logits).
    include_preprocessing: see above.
    dropout_rate: dropout before the classifier.
    name: the model's name.
    drop_path_rate: stochastic depth (default 0: none). Above 0, each block with a
        shortcut drops its residual branch per sample in training, at a rate rising
        linearly over the blocks from 0 to `drop_path_rate` (timm's ReXNet:
        `drop_path_rate * i / (n_blocks - 1)` for block `i`); the identity at inference.
        With 0 no `DropPath` layer is added.

Under a `mixed_float16` / `mixed_bfloat16` dtype policy
(`keras.mixed_precision.set_global_policy`), the `predictions` layer computes in and
returns float32.

Returns:
    A `keras.Model`.
"""


def _act(name, x, act):
    return Activation(act, name=name)(x)


def _conv(x, filters, name, kernel_size=1, strides=1, use_bias=False, init=None,
          data_format=None):
    if strides > 1 and kernel_size > 1:
        # PyTorch pads k // 2 on every side; "same" would pad asymmetrically.
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad",
                                 data_format=data_format)(x)
        padding = "valid"
    else:
        padding = "same"
    # keras_rexnet's Conv2D: the stock one's numbers, faster on JAX and torch (layers.py)
    return Conv2D(filters, kernel_size, strides=strides, padding=padding,
                  use_bias=use_bias, name=name, data_format=data_format,
                  kernel_initializer=init or "glorot_uniform")(x)


def _channel_axis(data_format):
    return 1 if data_format == "channels_first" else -1


def _bn(x, name, axis=-1):
    return BatchNormalization(axis=axis, epsilon=BN_EPSILON, momentum=BN_MOMENTUM,
                              name=name)(x)


def _squeeze_excite(x, block, prefix, init=None, data_format=None):
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}_pool",
                                      data_format=data_format)(x)
    s = _conv(s, block.se_channels, f"{prefix}_reduce", use_bias=True, init=init,
              data_format=data_format)
    s = _bn(s, f"{prefix}_bn", _channel_axis(data_format))
    s = _act(f"{prefix}_relu", s, "relu")
    s = _conv(s, block.hidden_channels, f"{prefix}_expand", use_bias=True, init=init,
              data_format=data_format)
    s = _act(f"{prefix}_gate", s, "sigmoid")
    return layers.Multiply(name=f"{prefix}_excite")([x, s])


def _depthwise(x, block, name, init=None, data_format=None):
    # PyTorch's k // 2 on every side when strided ("same" would pad asymmetrically)
    strided = block.stride > 1
    return DepthwiseConv2D(block.kernel_size, strides=block.stride,
                           padding="valid" if strided else "same",
                           symmetric_padding=block.kernel_size // 2 if strided else None,
                           use_bias=False, name=name, data_format=data_format,
                           depthwise_initializer=init or "glorot_uniform")(x)


def block_output_name(block):
    """Name of the layer whose output is block ``block``'s output."""
    if block.shortcut:
        return f"block{block.index}_add"
    return f"block{block.index}_{block.ops[-1].role}"


def apply_block(x, block, init=None, drop_path_rate=0.0, data_format=None):
    """Apply one spec block. ``init``: kernel initializer (None: Keras' defaults);
    ``data_format``: ``"channels_last"``/``"channels_first"`` (None: Keras' global one).

    ``drop_path_rate``: this block's stochastic-depth rate; above 0, a shortcut block drops its
    residual branch (the output before the add) per sample in training (:class:`DropPath`).
    """
    data_format = data_format or keras.config.image_data_format()
    prefix = f"block{block.index}"
    inputs = x
    for op in block.ops:
        name = f"{prefix}_{op.role}"
        if op.kind == "conv":
            filters = block.hidden_channels if op.role == "expand_conv" else block.out_channels
            x = _conv(x, filters, name, init=init, data_format=data_format)
        elif op.kind == "dwconv":
            x = _depthwise(x, block, name, init=init, data_format=data_format)
        elif op.kind == "bn":
            x = _bn(x, name, _channel_axis(data_format))
        elif op.kind == "act":
            x = _act(name, x, op.act)
        elif op.kind == "se":
            x = _squeeze_excite(x, block, f"{prefix}_se", init=init, data_format=data_format)
        else:  # pragma: no cover - the spec only makes the kinds above
            raise ValueError(f"unknown op kind {op.kind!r}")
    if block.shortcut:
        if drop_path_rate > 0:
            x = DropPath(drop_path_rate, name=f"{prefix}_drop_path")(x)
        x = PartialShortcut(name=f"{prefix}_add", data_format=data_format)([x, inputs])
    return x


def drop_path_rates(spec, drop_path_rate):
    """Each block's stochastic-depth rate: rising linearly from 0 at the first block to
    ``drop_path_rate`` at the last (timm's ReXNet: ``rate * i / (n_blocks - 1)``); only blocks
    with a shortcut use theirs."""
    n = len(spec.blocks)
    return [drop_path_rate * i / max(n - 1, 1) for i in range(n)]


def _validate_args(include_top, weights, pooling, classes, classifier_activation,
                   pretrained_classes=1000):
    if not (weights in (None, "imagenet") or isinstance(weights, (str, os.PathLike))):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), "
            "'imagenet' (pre-training on ImageNet), or the path to a weights file "
            f"({KERAS_WEIGHTS_SUFFIX}) or PyTorch checkpoint ({', '.join(CHECKPOINT_SUFFIXES)}), "
            "or 'hf://ORG/REPO[/FILE]'. "
            f"Received: weights={weights!r}")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer, got {classes!r}")
    if weights == "imagenet" and include_top and classes != pretrained_classes:
        raise ValueError(
            "If using `weights='imagenet'` with `include_top=True`, `classes` should be "
            f"{pretrained_classes}. Received classes={classes}")
    if weights == "imagenet" and include_top and classifier_activation not in (None, "softmax"):
        raise ValueError(
            "Only `None` and 'softmax' are allowed for `classifier_activation` when using "
            f"pretrained weights, got {classifier_activation!r}")
    if not include_top and pooling not in (None, "avg", "max"):
        raise ValueError(f"`pooling` must be None, 'avg' or 'max', got {pooling!r}")


def _image_input(input_tensor, input_shape, data_format="channels_last"):
    first = data_format == "channels_first"
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    if input_shape is None:
        input_shape = (3, None, None) if first else (None, None, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        order = "(channels, height, width)" if first else "(height, width, channels)"
        raise ValueError(f"`input_shape` must be {order} ({data_format}), got {input_shape}")
    (c, h, w) = input_shape if first else (input_shape[2], *input_shape[:2])
    for side in (h, w):
        if side is not None and side < MIN_SIZE:
            raise ValueError(
                f"Input size must be at least {MIN_SIZE}x{MIN_SIZE}; received "
                f"input_shape={input_shape}")
    if c is None or isinstance(c, bool) or not isinstance(c, int) or c < 1:
        raise ValueError(f"The input must have a known number of channels >= 1 ({data_format}), "
                         f"got input_shape={input_shape}")
    if input_tensor is None:
        return keras.Input(shape=input_shape, name="image"), None
    if not keras.backend.is_keras_tensor(input_tensor):
        img = keras.Input(tensor=input_tensor, shape=input_shape, name="image")
        return img, img
    return input_tensor, input_tensor


def imagenet_preprocessing_layers(channels=3, data_format="channels_last"):
    """The builders' input preprocessing (``include_preprocessing=True``), as new layers:
    ``Rescaling(1/255)`` named ``rescaling``, then ``Normalization`` with the ImageNet mean and
    variance named ``normalization``. Applied in order they turn RGB pixels in [0, 255] into
    what :func:`keras_rexnet.preprocess_input` gives. With ``channels != 3`` (no RGB to
    normalize) only the rescaling, as ``keras.applications.EfficientNetV2`` does."""
    out = [layers.Rescaling(1.0 / 255, name="rescaling")]
    if channels == 3:
        out.append(layers.Normalization(mean=list(specs.IMAGENET_MEAN),
                                        variance=[s ** 2 for s in specs.IMAGENET_STD],
                                        axis=_channel_axis(data_format), name="normalization"))
    return out


def _input_size(shape, data_format):
    """``(height, width, channels)`` of an image input shape (no batch) in ``data_format``."""
    shape = tuple(shape)
    return (*shape[1:3], shape[0]) if data_format == "channels_first" else shape


def build_from_spec(spec, include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=1000, classifier_activation="softmax",
                    include_preprocessing=True, dropout_rate=0.2, name=None, model_name=None,
                    kernel_initializer=None, drop_path_rate=0.0, data_format=None):
    """Build the Keras model a :class:`keras_rexnet.spec.NetSpec` describes.

    ``data_format``: ``"channels_last"`` or ``"channels_first"`` (default:
    ``keras.config.image_data_format()``, as the builders);
    ``model_name``: the configuration's name (default: from the spec);
    ``kernel_initializer``: overrides the kernels' initializer (default: Keras' own, or
    zeros when ``weights`` will overwrite them anyway); the other arguments are the builders'
    (:func:`ReXNetV1`).
    """
    model_name = model_name or specs.default_name(spec)
    pretrained_classes = 1000
    if weights == "imagenet" and "." in model_name:  # a tagged checkpoint, e.g. ".sw_in12k"
        from keras_rexnet.pretrained import pretrained_cfg

        pretrained_classes = pretrained_cfg(model_name)["num_classes"]
    _validate_args(include_top, weights, pooling, classes, classifier_activation,
                   pretrained_classes)
    if not 0 <= dropout_rate < 1:
        raise ValueError(f"`dropout_rate` must be in [0, 1), got {dropout_rate!r}")
    if isinstance(drop_path_rate, bool) or not isinstance(drop_path_rate, (int, float)) \
            or not 0 <= drop_path_rate < 1:
        raise ValueError(f"`drop_path_rate` must be in [0, 1), got {drop_path_rate!r}")
    data_format = data_format or keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"`data_format` must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r}")
    img_input, source = _image_input(input_tensor, input_shape, data_format)
    height, width, channels = _input_size(img_input.shape[1:], data_format)
    if weights == "imagenet" and input_shape is not None and (height, width) != (224, 224):
        import warnings
        warnings.warn(f"{model_name} was trained at 224x224; input_shape={tuple(input_shape)} "
                      "may give lower accuracy with the pretrained weights.", stacklevel=3)
    axis = _channel_axis(data_format)
    # Weights that are about to be loaded need no random draw: on JAX every random
    # initializer compiles per shape (about a second each), zeros cost nothing.
    init = kernel_initializer or ("zeros" if weights is not None else None)

    x = img_input
    if include_preprocessing:
        for layer in imagenet_preprocessing_layers(channels, data_format):
            x = layer(x)
    x = _conv(x, spec.stem_channels, "stem_conv", kernel_size=3, strides=spec.stem_stride,
              init=init, data_format=data_format)
    x = _bn(x, "stem_bn", axis)
    x = _act("stem_act", x, spec.stem_act)
    for block, rate in zip(spec.blocks, drop_path_rates(spec, drop_path_rate)):
        x = apply_block(x, block, init, drop_path_rate=rate, data_format=data_format)
    head = spec.head
    if head.channels is not None:
        x = _conv(x, head.channels, "head_conv", init=init, data_format=data_format)
        x = _bn(x, "head_bn", axis)
        x = _act("head_act", x, head.act)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool", data_format=data_format)(x)
        if head.prelogits_channels:
            x = layers.Dense(head.prelogits_channels, name="prelogits_conv",
                             kernel_initializer=init or "glorot_uniform")(x)
            x = _bn(x, "prelogits_bn")
            x = _act("prelogits_act", x, head.prelogits_act)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="dropout")(x)
        # Under a float16/bfloat16 dtype policy the classifier runs in float32 and its output is
        # float32 (as the mixed-precision guide advises: a stable softmax and loss).
        half = keras.config.dtype_policy().compute_dtype in ("float16", "bfloat16")
        x = layers.Dense(classes, activation=classifier_activation, name="predictions",
                         kernel_initializer=init or "glorot_uniform",
                         dtype="float32" if half else None)(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool", data_format=data_format)(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool", data_format=data_format)(x)

    if source is not None:
        inputs = keras.utils.get_source_inputs(source)
    else:
        inputs = img_input
    model = keras.Model(inputs, x, name=name or model_name)

    if weights is not None:
        from keras_rexnet import weights as weights_lib

        weights_lib.load_into(model, spec, weights, include_top=include_top,
                              model_name=model_name)
    return model


def _builder(family, title, width_note=""):
    def builder(width=1.0, include_top=True, weights=None, input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                include_preprocessing=True, dropout_rate=0.2, name=None, drop_path_rate=0.0):
        spec = specs.spec_for(family, width)
        return build_from_spec(spec, include_top=include_top, weights=weights,
                               input_tensor=input_tensor, input_shape=input_shape,
                               pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation,
                               include_preprocessing=include_preprocessing,
                               dropout_rate=dropout_rate, name=name,
                               drop_path_rate=drop_path_rate)

    builder.__doc__ = BASE_DOCSTRING.format(
        title=title, width_note=width_note, keras_weights=KERAS_WEIGHTS_SUFFIX,
        checkpoints=", ".join(f"`{s}`" for s in CHECKPOINT_SUFFIXES))
    return builder


ReXNetV1 = _builder("rexnet_v1", "ReXNetV1", " (published: 1.0, 1.3, 1.5, 2.0, 3.0)")
ReXNetV1.__name__ = ReXNetV1.__qualname__ = "ReXNetV1"
ReXNetV1Lite = _builder("rexnet_lite", "ReXNetV1-lite (no SE, ReLU6 only)",
                        " (published: 1.0, 1.3, 1.5, 2.0)")
ReXNetV1Lite.__name__ = ReXNetV1Lite.__qualname__ = "ReXNetV1Lite"
ReXNetPlain = _builder("rexnet_plain", "ReXNet (plain), from the paper's appendix B.2")
ReXNetPlain.__name__ = ReXNetPlain.__qualname__ = "ReXNetPlain"


def list_models(pattern=None):
    """Names accepted by :func:`create_model` (timm-style), optionally filtered by fnmatch."""
    import fnmatch

    names = list(specs.MODEL_NAMES)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return names


def create_model(name, **kwargs):
    """Build a model by its timm-style name, e.g. ``create_model("rexnet_150")``.

    Takes the builders' keyword arguments (``weights``, ``include_top``, ``classes``,
    ``drop_path_rate`` ...).
    A pretrained tag may follow the name (``"rexnetr_200.sw_in12k"``): with
    ``weights="imagenet"`` it picks those weights, and ``classes`` defaults to theirs.
    """
    if "width" in kwargs:
        raise TypeError("create_model() takes the width from the model name; do not pass `width`")
    spec = specs.spec_by_name(name.partition(".")[0])
    if "." in name and kwargs.get("weights") == "imagenet" and "classes" not in kwargs:
        from keras_rexnet.pretrained import pretrained_cfg

        kwargs["classes"] = pretrained_cfg(name)["num_classes"]
    return build_from_spec(spec, model_name=name, **kwargs)


def load_model(source, weights=None):
    """A ``keras.Model`` from a model name, a ``.keras`` file or a PyTorch checkpoint.

    ``source`` may be:

    * a built ``keras.Model``: returned as it is;
    * a model name (:func:`list_models`, a pretrained tag allowed: ``"rexnetr_200.sw_in12k"``):
      built by :func:`create_model` with ``weights`` (``None`` means ``"imagenet"``; or a
      ``.weights.h5``, a checkpoint path, ``"hf://..."``);
    * a ``.keras`` file: loaded uncompiled, for inference (a file saved under JAX records
      ``jit_compile=True``, which other backends refuse to compile);
    * a PyTorch checkpoint (official or timm layout): the model it holds, its weights loaded.

    ``weights`` goes with a model name only. Raises ``ValueError`` (``CheckpointError`` for a
    bad checkpoint) with one line naming the source: a missing file, an unknown name, a suffix
    that is none of these, or ``weights`` with something other than a name.
    """
    if isinstance(source, keras.Model):
        if weights is not None:
            raise ValueError("`weights` goes with a model name, not with a built model")
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(f"expected a keras.Model, a model name, a .keras file or a PyTorch "
                         f"checkpoint; got {type(source).__name__}")
    text = os.fspath(source)
    path = pathlib.Path(text)
    is_file = path.suffix.lower() == ".keras" or is_checkpoint(path)
    if not is_file and text.partition(".")[0] in specs.MODEL_NAMES:
        return create_model(text, weights="imagenet" if weights is None else weights)
    if weights is not None:
        raise ValueError(f"`weights` goes with a model name (keras-rexnet list); {text!r} is "
                         "not one")
    if path.suffix.lower() == ".keras":
        if not path.is_file():
            raise ValueError(f"{text}: no such file")
        return keras.saving.load_model(path, compile=False)
    if is_file:  # a missing or damaged one: CheckpointError
        from keras_rexnet.converters import load

        return load(path)
    hint = (f" (a {KERAS_WEIGHTS_SUFFIX} file holds weights only: give the model name and the "
            f"file as weights)" if text.lower().endswith(KERAS_WEIGHTS_SUFFIX) else "")
    raise ValueError(f"unknown model {text!r}: not a model name (keras-rexnet list), a .keras "
                     f"file or a PyTorch checkpoint ({', '.join(CHECKPOINT_SUFFIXES)}){hint}")


def block_outputs(model):
    """``[(output stride, layer name)]`` of every block of a keras_rexnet model.

    Read from the model's layers (names and strides), so it works on a model loaded
    from ``.keras`` as well.
    """
    names = {layer.name for layer in model.layers}
    if "stem_conv" not in names:
        raise ValueError(f"{model.name!r} is not a keras_rexnet model (no 'stem_conv' layer)")
    stride = model.get_layer("stem_conv").strides[0]
    out, i = [], 0
    while f"block{i}_dw_conv" in names:
        stride *= model.get_layer(f"block{i}_dw_conv").strides[0]
        last = next(f"block{i}_{role}" for role in ("add", "project_act", "project_bn")
                    if f"block{i}_{role}" in names)
        out.append((stride, last))
        i += 1
    return out


def feature_extractor(model):
    """A model giving the feature maps at strides 4, 8, 16 and 32 of a ReXNet model.

    Returns a ``keras.Model`` with the same input and a dict of outputs
    ``{"P2": stride 4, "P3": stride 8, "P4": stride 16, "P5": stride 32}``, each the
    output of the last block at that resolution (as timm's ``features_only``).
    Works on any model these builders made, including one loaded from ``.keras``.
    """
    last = dict(block_outputs(model))
    outputs = {}
    for level, s in (("P2", 4), ("P3", 8), ("P4", 16), ("P5", 32)):
        if s not in last:
            raise ValueError(f"{model.name!r} has no block at stride {s}")
        outputs[level] = model.get_layer(last[s]).output
    return keras.Model(model.inputs, outputs, name=f"{model.name}_features")


def model_data_format(model):
    """``"channels_last"`` or ``"channels_first"``: the layout of ``model``'s feature maps (read
    from its first layer with a ``data_format``; channels last when none has one)."""
    names = {layer.name for layer in model.layers}
    if "stem_conv" in names:
        return model.get_layer("stem_conv").data_format
    for layer in model.layers:
        fmt = getattr(layer, "data_format", None)
        if fmt in ("channels_last", "channels_first"):
            return fmt
    return "channels_last"


def convert_data_format(model, data_format):
    """A copy of ``model`` in ``data_format`` (``"channels_last"``/``"channels_first"``) with the
    same weights and outputs, or ``model`` itself when it is in that format already.

    Every layer is rebuilt from its config with the other layout (``data_format``, the
    BatchNormalization and Normalization channel axis); kernels do not depend on the layout,
    so the weights are copied as they are. Feature-map outputs come out in the new layout.
    Raises ``ValueError`` for a model holding layers whose weights or results depend on the
    layout in other ways (``Flatten``, ``Reshape``, ``Permute``, nested models).
    """
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"`data_format` must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r}")
    source = model_data_format(model)
    if source == data_format:
        return model
    if len(model.inputs) != 1:
        raise ValueError(f"{model.name!r}: convert_data_format takes a model with one input")
    refused = (layers.Flatten, layers.Reshape, layers.Permute, keras.Model)
    old_axis = 1 if source == "channels_first" else 3
    new_axis = 1 if data_format == "channels_first" else -1

    def clone(layer):
        if isinstance(layer, refused):
            raise ValueError(f"{model.name!r}: cannot change the data format of layer "
                             f"{layer.name!r} ({type(layer).__name__})")
        config = layer.get_config()
        cls = layer.__class__
        if "data_format" in config:
            config["data_format"] = data_format
            if cls is layers.Conv2D and config.get("use_bias") and data_format == \
                    "channels_first":
                cls = Conv2D  # its bias is right in channels first (layers.py)
        if isinstance(layer, (layers.BatchNormalization, layers.Normalization)) \
                and len(layer.input.shape) == 4:
            axis = config["axis"]
            axes = [axis] if isinstance(axis, int) else list(axis)
            if [a % 4 for a in axes] == [old_axis]:
                config["axis"] = new_axis
            else:
                raise ValueError(f"{model.name!r}: layer {layer.name!r} normalizes axis {axis}, "
                                 f"not the channels of {source}")
        return cls.from_config(config)

    h, w, c = _input_size(model.inputs[0].shape[1:], source)
    shape = (c, h, w) if data_format == "channels_first" else (h, w, c)
    inp = keras.Input(shape=shape, name=model.inputs[0].name or "image",
                      dtype=model.inputs[0].dtype)
    new = keras.models.clone_model(model, input_tensors=inp, clone_function=clone)
    for layer in model.layers:
        if layer.weights:
            new.get_layer(layer.name).set_weights(layer.get_weights())
    return new
