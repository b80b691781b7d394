"""TFLite and ONNX export of Keras image classifiers, from any Keras backend.

Conversion needs TensorFlow's converter (TFLite) or tf2onnx (ONNX), which work on the TensorFlow
backend only. When Keras runs on JAX or PyTorch, the model is saved to a temporary ``.keras``
file and converted in a ``KERAS_BACKEND=tensorflow`` subprocess (``keras_rexnet.tflite._worker``);
the caller sees the same function and the same errors. TensorFlow is imported only inside the
functions that convert.

Files are written to a temporary sibling and renamed into place once complete: a failed export
leaves nothing behind.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import warnings

import numpy as np

from keras_rexnet.files import atomic_path, atomic_write

QUANTIZATIONS = (None, "float16", "dynamic", "int8")
DEFAULT_SIZE = (224, 224)
WORKER_TIMEOUT = 3600
# The converter setting that keeps dynamic-range dense layers at an op version old runtimes know.
DENSE_PER_TENSOR = "_experimental_disable_per_channel_quantization_for_dense_layers"


class QuantizationWarning(UserWarning):
    """An int8 export of a model known to quantize badly (squeeze-excitation, SiLU)."""


class AndroidCompatibilityWarning(UserWarning):
    """An exported file that the Android Task Library's ImageClassifier would reject."""


# -- arguments ----------------------------------------------------------------------------------

def check_quantization(quantization):
    if quantization == "float32":
        return None
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of None (float32), 'float16', 'dynamic' or "
                         f"'int8'; got {quantization!r}")
    return quantization


def output_path(path, suffix):
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"the output path must be a str or path, got {type(path).__name__}")
    path = pathlib.Path(os.fspath(path))
    if path.suffix.lower() != suffix:
        raise ValueError(f"the output file must end with {suffix}, got {str(path)!r}")
    if not path.parent.is_dir():
        raise ValueError(f"the output folder {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder")
    return path


def image_input_shape(model):
    """``(H, W)`` of a single-image-input model (None for dynamic sides); checks the model."""
    if len(model.inputs) != 1:
        raise ValueError(f"{model.name!r} has {len(model.inputs)} inputs; the exporter takes "
                         "image classifiers with one (batch, height, width, 3) input")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[-1] != 3:
        raise ValueError(f"{model.name!r} takes input of shape {shape}; expected (batch, height, "
                         "width, 3) RGB images (channels last)")
    return shape[1], shape[2]


def classes_of(model):
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        shapes = [tuple(o.shape) for o in model.outputs]
        raise ValueError(f"{model.name!r} has outputs {shapes}; the exporter takes classifiers "
                         "with one (batch, classes) output (include_top=True)")
    n = model.outputs[0].shape[-1]
    if n is None:
        raise ValueError(f"{model.name!r} has an output of unknown width")
    return int(n)


def resolve_input_size(model, input_size):
    h, w = image_input_shape(model)
    if input_size is None:
        return (h or DEFAULT_SIZE[0], w or DEFAULT_SIZE[1])
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    size = tuple(input_size)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s >= 32 for s in size):
        raise ValueError(f"input_size must be (height, width) with sides >= 32, got {input_size!r}")
    size = (int(size[0]), int(size[1]))
    for got, want, side in ((size[0], h, "height"), (size[1], w, "width")):
        if want is not None and got != want:
            raise ValueError(f"input_size {size} does not match the model's fixed {side} {want}")
    return size


def resolve_labels(labels, classes):
    if labels is None:
        return None
    if isinstance(labels, str):
        if labels != "imagenet":
            raise ValueError(f"labels must be 'imagenet', a list of class names or None; got "
                             f"{labels!r}")
        if classes != 1000:
            raise ValueError(f"labels='imagenet' needs 1000 outputs; the model has {classes}. "
                             "Pass labels=[...] (one name per class) or labels=None")
        from keras_rexnet.imagenet import class_index

        return [names.split(",")[0].strip() for _, names in class_index()]
    try:
        labels = [str(label) for label in labels]
    except TypeError:
        raise ValueError(f"labels must be 'imagenet', a list of class names or None; got "
                         f"{type(labels).__name__}") from None
    if len(labels) != classes:
        raise ValueError(f"{len(labels)} labels for a model with {classes} classes")
    for i, label in enumerate(labels):
        if "\n" in label or "\r" in label:
            raise ValueError(f"label {i} contains a line break")
    return labels


# -- what the model does to its input ----------------------------------------------------------

def _layers(model):
    """Every layer of ``model``, nested models' layers included."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


def has_preprocessing(model):
    """True when the model normalizes RGB pixels itself (``include_preprocessing=True``): it has
    the builders' ``rescaling`` and ``normalization`` layers (also inside a nested backbone)."""
    import keras

    found = {layer.name: layer for layer in _layers(model)
             if layer.name in ("rescaling", "normalization")}
    return (isinstance(found.get("rescaling"), keras.layers.Rescaling)
            and isinstance(found.get("normalization"), keras.layers.Normalization))


def pixel_normalization(model):
    """``(mean, std)`` in pixel units that must be applied before the graph: identity (0, 1)
    when the model normalizes inside, else the ImageNet statistics times 255."""
    if has_preprocessing(model):
        return [0.0], [1.0]
    from keras_rexnet.spec import IMAGENET_MEAN, IMAGENET_STD

    return ([round(255.0 * m, 6) for m in IMAGENET_MEAN],
            [round(255.0 * s, 6) for s in IMAGENET_STD])


def with_preprocessing(model):
    """``model`` behind the builders' ImageNet Rescaling + Normalization layers
    (:func:`keras_rexnet.model.imagenet_preprocessing_layers`): it then takes RGB pixels."""
    import keras

    from keras_rexnet.model import imagenet_preprocessing_layers

    inp = keras.Input(shape=tuple(model.inputs[0].shape[1:]), name="image")
    x = inp
    for layer in imagenet_preprocessing_layers():
        x = layer(x)
    return keras.Model(inp, model(x), name=model.name)


def _affine_of(rescaling, normalization):
    """Per-channel ``(a, b)`` with ``normalization(rescaling(x)) == a * x + b``, or None."""
    import keras

    if getattr(normalization, "invert", False):
        return None
    scale = np.asarray(keras.ops.convert_to_numpy(rescaling.scale), np.float64) \
        if not np.isscalar(rescaling.scale) else np.float64(rescaling.scale)
    offset = np.asarray(keras.ops.convert_to_numpy(rescaling.offset), np.float64) \
        if not np.isscalar(rescaling.offset) else np.float64(rescaling.offset)
    mean = np.asarray(keras.ops.convert_to_numpy(normalization.mean), np.float64).reshape(-1)
    var = np.asarray(keras.ops.convert_to_numpy(normalization.variance), np.float64).reshape(-1)
    if mean.shape != (3,) or var.shape != (3,) or np.size(scale) not in (1, 3) or \
            np.size(offset) not in (1, 3):
        return None
    sd = np.maximum(np.sqrt(var), keras.config.epsilon())
    a = np.broadcast_to(np.reshape(scale, -1), (3,)) / sd
    b = (np.broadcast_to(np.reshape(offset, -1), (3,)) - mean) / sd
    return a.astype(np.float32), b.astype(np.float32)


def fused_pixel_graph(model, input_size=None, rows=True):
    """The model to convert: ``model`` with its input Rescaling + Normalization replaced by one
    per-channel affine op (a 1x1 depthwise convolution, ``a * x + b``).

    Same function (float32 outputs differ by ~1e-6), but one op instead of three elementwise
    ones with broadcasting: in a full-integer file that is about 0.8 ms of 3.3 ms less on
    ReXNet-lite 1.0 (XNNPACK, one thread). ``input_size``: ``(height, width)`` of the new input
    (default: the model's). With ``rows`` (the default) and a fixed input size, the op sees the
    image as ``(H, 1, W*3)`` (a reshape on each side, the weights tiled ``W`` times): over 3
    channels a depthwise op fills a fraction of each vector register, over ``W*3`` all of it
    (``benchmarks/pixel_norm_tflite.py``). Returns ``model`` unchanged when its preprocessing
    is not the builders' two layers right at the input.
    """
    import keras

    from keras_rexnet.graph import connections

    layers = {layer.name: layer for layer in model.layers}
    rescaling, normalization = layers.get("rescaling"), layers.get("normalization")
    if not (isinstance(rescaling, keras.layers.Rescaling)
            and isinstance(normalization, keras.layers.Normalization)
            and len(model.inputs) == 1):
        return model
    graph = connections(model)
    first, second = graph.get("rescaling"), graph.get("normalization")
    source = graph.get(first.inputs[0]) if first and len(first.inputs) == 1 else None
    # the one input feeds rescaling only, which feeds normalization only, each called once
    if not (source is not None and source.calls == 0 and source.consumers == ["rescaling"]
            and first.calls == 1 and first.consumers == ["normalization"]
            and second.calls == 1 and second.inputs == ["rescaling"]):
        return model
    affine = _affine_of(rescaling, normalization)
    if affine is None:
        return model
    try:
        tail = keras.Model(normalization.output, model.outputs, name=f"{model.name}_tail")
    except ValueError:  # the input feeds other layers too: keep the graph as it is
        return model
    shape = tuple(input_size or model.inputs[0].shape[1:3]) + (3,)
    inp = keras.Input(shape=shape, name="image")
    layer = keras.layers.DepthwiseConv2D(1, use_bias=True, name="pixel_normalization",
                                         data_format="channels_last")
    h, w = shape[:2]
    if rows and h is not None and w is not None:
        x = keras.layers.Reshape((h, 1, w * 3), name="pixel_rows")(inp)
        x = layer(x)
        layer.set_weights([np.tile(affine[0], w).reshape(1, 1, w * 3, 1), np.tile(affine[1], w)])
        x = keras.layers.Reshape(shape, name="pixel_normalized")(x)
    else:
        x = layer(inp)
        layer.set_weights([affine[0].reshape(1, 1, 3, 1), affine[1]])
    out = tail(x)
    return keras.Model(inp, out[0] if isinstance(out, (list, tuple)) else out, name=model.name)


def quantization_sensitive_layers(model):
    """Names of squeeze-excitation and SiLU/swish layers (they quantize badly to int8)."""
    found = []
    for layer in _layers(model):
        act = getattr(layer, "activation", None)
        act_name = getattr(act, "__name__", str(act) if act is not None else "")
        if re.match(r"block\d+_se_", layer.name) or act_name in ("silu", "swish"):
            found.append(layer.name)
    return found


def _int8_warning(model):
    sensitive = quantization_sensitive_layers(model)
    if not sensitive:
        return
    se = sum(1 for n in sensitive if "_se_" in n)
    silu = len(sensitive) - se
    warnings.warn(
        f"{model.name} has squeeze-excitation ({se} layers) and SiLU/swish activations ({silu} "
        f"layers): full-integer int8 post-training quantization usually costs such models much "
        f"more accuracy than ReLU6 models. SiLU's negative lobe and long positive tail, and the "
        f"SE gates (a global pool, a sigmoid and a multiply per block), get one 8-bit scale per "
        f"tensor fitted to their extreme values, so most of the range is wasted (EfficientNet-B0 "
        f"with swish falls apart under post-training quantization, while EfficientNet-lite0 "
        f"without SE/swish loses 0.7 points). Prefer ReXNetV1Lite for int8, or export this model "
        f"with quantization='float16' or 'dynamic'; check the result with "
        f"keras_rexnet.tflite.evaluate.", QuantizationWarning, stacklevel=3)


def _metadata_fields(model, metadata, quantization, size, classes):
    if metadata is False or metadata is None:
        return None
    import keras_rexnet

    h, w = size
    qdesc = {None: "float32", "float16": "float16 weights",
             "dynamic": "dynamic-range quantized (int8 weights, float activations)",
             "int8": "full-integer int8 (uint8 input and output)"}[quantization]
    norm = "normalized with the ImageNet mean/std inside the model"
    pixels = "uint8" if quantization == "int8" else "float32"
    fields = {
        "name": model.name,
        "description": (f"{model.name}: ReXNet image classifier exported by keras-rexnet, "
                        f"{qdesc}. Input: one {h}x{w} RGB image, {pixels} pixel values in "
                        f"[0, 255], {norm}. Output: {classes} class probabilities."),
        "version": keras_rexnet.__version__,
        "author": "keras-rexnet",
        "license": "MIT (keras-rexnet); the weights carry the license of their source",
        "input_description": f"RGB image {h}x{w}, {pixels} pixels in [0, 255]",
        "output_description": f"Probabilities of the {classes} classes",
    }
    if isinstance(metadata, dict):
        unknown = set(metadata) - set(fields)
        if unknown:
            raise ValueError(f"unknown metadata fields {sorted(unknown)}; known: {sorted(fields)}")
        fields.update({k: str(v) for k, v in metadata.items()})
    elif metadata is not True:
        raise ValueError(f"metadata must be True, False or a dict of fields, got {metadata!r}")
    return fields


# -- writing -----------------------------------------------------------------------------------

def export_tflite(model, path, quantization=None, representative_data=None, labels="imagenet",
                  metadata=True, input_size=None):
    """Export an image classifier to a ``.tflite`` file for the Android Task Library.

    Args:
        model: a ``keras.Model`` (one RGB image input, one (batch, classes) output), a model
            name, a ``.keras`` file or a PyTorch checkpoint path.
        path: the output file (``.tflite``); written atomically.
        quantization: ``None`` (float32), ``"float16"`` (float16 weights), ``"dynamic"`` (int8
            weights, float activations) or ``"int8"``: full-integer post-training quantization,
            builtin int8 ops only, **uint8 image input and uint8 output**.
        representative_data: for ``"int8"`` (required): RGB images in [0, 255] at the export
            size, as an array ``(n, H, W, 3)``, an iterable of images, or a folder (read with
            :func:`calibration_images`). Use a few hundred images like the app's.
        labels: ``"imagenet"`` (the 1000 ImageNet class names), a list of names, or None.
        metadata: True (Task Library ImageClassifier metadata: name, description, version,
            author, license, input normalization, label file), False, or a dict overriding
            fields (``name``, ``description``, ``version``, ``author``, ``license``,
            ``input_description``, ``output_description``).
        input_size: ``(height, width)`` of the exported input (default: the model's, or 224x224
            for models built for any size). The file takes exactly one 1xHxWx3 image.

    The file takes raw RGB pixels, and the ImageNet normalization is always in the graph (the
    metadata declares mean 0, std 1): models without it (``include_preprocessing=False``) get
    it prepended, since MediaPipe Tasks refuses per-channel NormalizationOptions and a uint8
    input holds pixels.
    In the file the normalization is one per-channel affine op (:func:`fused_pixel_graph`).
    The written file is checked with :func:`check_android` (loaded in MediaPipe Tasks and the
    TFLite Task Library where installed, and the rules no runtime checks); objections are
    warned about (:class:`AndroidCompatibilityWarning`). ``"dynamic"`` keeps dense layers'
    weights per-tensor so that FULLY_CONNECTED stays at an op version the Task Library 0.4.4
    knows. Works on every Keras backend (see module doc).

    Returns the path (``pathlib.Path``). Raises ``ValueError`` on bad arguments.
    """
    import keras

    from keras_rexnet.model import convert_data_format, load_model
    from keras_rexnet.tflite.requirements import require

    quantization = check_quantization(quantization)
    path = output_path(path, ".tflite")
    require("tflite", metadata=metadata not in (False, None),
            images=isinstance(representative_data, (str, os.PathLike)))  # before any work
    model = convert_data_format(load_model(model), "channels_last")  # phones take NHWC
    size = resolve_input_size(model, input_size)
    classes = classes_of(model)
    label_list = resolve_labels(labels, classes)
    calibration = None
    if quantization == "int8":
        if representative_data is None:
            raise ValueError(
                "quantization='int8' needs representative_data: a few hundred RGB images in "
                f"[0, 255] at {size[0]}x{size[1]} like the ones the app will see (an array "
                "(n, H, W, 3), an iterable of images, or a folder via "
                "keras_rexnet.tflite.calibration_images(folder))")
        from keras_rexnet.tflite.calibration import pixel_batch

        calibration = pixel_batch(representative_data, size)
        _int8_warning(model)
    elif representative_data is not None:
        warnings.warn(f"representative_data is used by quantization='int8' only; ignored for "
                      f"{quantization or 'float32'}", UserWarning, stacklevel=2)
    # The normalization is always in the graph (_export_tflite_tf): MediaPipe Tasks refuses
    # per-channel NormalizationOptions ("Per-channel image normalization is not available."),
    # and a uint8 input holds pixels anyway.
    fields = _metadata_fields(model, metadata, quantization, size, classes)
    job = dict(quantization=quantization, labels=label_list, metadata=fields,
               input_size=list(size))
    if keras.config.backend() == "tensorflow":
        _export_tflite_tf(model, path, calibration=calibration, **job)
    else:
        _in_tensorflow_process("tflite", model, path, calibration=calibration, **job)
    from keras_rexnet.tflite.android import check_android

    # Loaded in MediaPipe Tasks and the Task Library (where installed), and the rules.
    violations = check_android(path)
    if violations:
        warnings.warn(f"{path.name} would be rejected on Android: " + "; ".join(violations),
                      AndroidCompatibilityWarning, stacklevel=2)
    return path


def _converter_options(quantization, calibration):
    import tensorflow as tf

    builtins = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization is None:
        return {"target_spec": {"supported_ops": builtins}}
    if quantization == "float16":
        return {"optimizations": [tf.lite.Optimize.DEFAULT],
                "target_spec": {"supported_ops": builtins, "supported_types": [tf.float16]}}
    if quantization == "dynamic":
        # Per-channel int8 weights in the classifier's FULLY_CONNECTED make it op version 12,
        # which the TFLite Task Library 0.4.4 refuses ("Didn't find op for builtin opcode
        # 'FULLY_CONNECTED' version '12'"); per-tensor weights for dense layers give version 9,
        # which it loads (convolutions keep per-channel weights). tests/tflite/test_runtimes.py
        # loads the file in it and in MediaPipe Tasks.
        if not hasattr(tf.lite.TFLiteConverter([], None), DENSE_PER_TENSOR):
            raise ValueError(
                f"quantization='dynamic' needs TensorFlow's converter setting {DENSE_PER_TENSOR} "
                f"(TensorFlow {tf.__version__} lacks it): without it FULLY_CONNECTED is op version "
                f"12, which needs a runtime as new as MediaPipe Tasks 1.2 (the TFLite Task "
                f"Library 0.4.4 refuses it); upgrade TensorFlow or use 'float16' or 'int8'")
        return {"optimizations": [tf.lite.Optimize.DEFAULT],
                "target_spec": {"supported_ops": builtins}, DENSE_PER_TENSOR: True}

    def representative_dataset():
        for image in calibration:
            yield [image[None].astype(np.float32)]

    return {"optimizations": [tf.lite.Optimize.DEFAULT],
            "representative_dataset": representative_dataset,
            "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
            "inference_input_type": tf.uint8, "inference_output_type": tf.uint8}


def _check_full_integer(buf):
    """Make the uint8 input exactly the pixel value (scale 1, zero point 0); check the graph."""
    from keras_rexnet.tflite.metadata import input_consumers, read_model, set_input_quantization

    info = read_model(buf)
    inp, out = info.inputs[0], info.outputs[0]
    if inp.dtype != "uint8" or out.dtype != "uint8":
        raise RuntimeError(f"int8 conversion gave {inp.dtype} input and {out.dtype} output, "
                           "not uint8")
    floats = sum(1 for t in info.tensor_types if t in ("float32", "float16"))
    if floats:
        raise RuntimeError(f"int8 conversion left {floats} float tensors in the graph")
    if inp.scale != (1.0,) or inp.zero_point != (0,):
        # Calibration did not span [0, 255] exactly. The input feeds QUANTIZE ops only (uint8 ->
        # int8 requantization), so declaring the input as the pixel itself is exact: the
        # requantization maps pixels to the calibrated int8 range (clipping outside it).
        consumers = input_consumers(buf)
        if not consumers or set(consumers) != {"QUANTIZE"}:
            raise RuntimeError(f"the uint8 input has scale {inp.scale}, zero point "
                               f"{inp.zero_point} and feeds {consumers}; cannot pin it to pixels")
        buf = set_input_quantization(buf, 1.0, 0)
    return buf


def _export_tflite_tf(model, path, quantization, calibration, labels, metadata, input_size):
    """The conversion itself; runs in a TensorFlow-backend process."""
    import keras

    from keras_rexnet.tflite.metadata import write_metadata

    if keras.config.backend() != "tensorflow":  # pragma: no cover - guarded by the callers
        raise RuntimeError("TFLite conversion runs on the TensorFlow backend only")
    h, w = input_size
    if not has_preprocessing(model):  # the metadata then declares identity (see export_tflite)
        model = with_preprocessing(model)
    mean, std = pixel_normalization(model)
    model = fused_pixel_graph(model, input_size=(h, w))
    signature = [keras.InputSpec(shape=(1, h, w, 3), dtype="float32", name="image")]
    with tempfile.TemporaryDirectory(prefix="keras_rexnet_tflite_") as tmp:
        raw = pathlib.Path(tmp) / "model.tflite"
        model.export(str(raw), format="litert", input_signature=signature, verbose=False,
                     **_converter_options(quantization, calibration))
        buf = raw.read_bytes()
    if quantization == "int8":
        buf = _check_full_integer(buf)
    if metadata:
        buf = write_metadata(buf, norm_mean=mean, norm_std=std, labels=labels, **metadata)
    atomic_write(path, buf)
    return path


def export_onnx(model, path, input_size=None, opset=None):
    """Export a model to ONNX (tf2onnx on the TensorFlow backend), written atomically.

    ``model`` as in :func:`export_tflite`. The ONNX input ``image`` takes what the Keras model
    takes (RGB pixels in [0, 255] for the default models), with a dynamic batch; the spatial
    size is the model's (dynamic for models built for any size) unless ``input_size`` fixes it.
    From JAX or PyTorch the conversion runs in a TensorFlow-backend subprocess.
    """
    import keras

    from keras_rexnet.model import convert_data_format, load_model
    from keras_rexnet.tflite.requirements import require

    path = output_path(path, ".onnx")
    require("onnx")  # before any work
    model = convert_data_format(load_model(model), "channels_last")  # NHWC, as the TFLite
    h, w = image_input_shape(model)
    if input_size is not None:
        h, w = resolve_input_size(model, input_size)
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int) or opset < 7):
        raise ValueError(f"opset must be an ONNX opset number, got {opset!r}")
    job = dict(input_size=[h, w], opset=opset)
    if keras.config.backend() == "tensorflow":
        _export_onnx_tf(model, path, **job)
    else:
        _in_tensorflow_process("onnx", model, path, **job)
    return path


def patch_tf2onnx():
    """Make tf2onnx work with NumPy 2; returns True when the patch was applied.

    tf2onnx (1.17) still uses ``np.object``, ``np.cast`` & co., gone in NumPy 2. Keras ships
    the fix for its own ONNX export, in a private module, and no public API applies it:
    ``keras.export.ExportArchive`` has no ONNX path, and ``model.export(format="onnx")``
    (which applies it) converts the un-frozen function, so the Normalization layer's constants
    become extra graph inputs. This is the one place that reaches into ``keras.src``;
    ``tests/tflite/test_onnx.py`` fails when a Keras release moves it.
    """
    try:
        from keras.src.export.tf2onnx_lib import patch_tf2onnx as patch
    except ImportError:  # pragma: no cover - a Keras without it (the test says so)
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # its own hasattr(np, "object")
        patch()
    return True


def _export_onnx_tf(model, path, input_size, opset):
    """tf2onnx on a frozen ``tf.function`` of the model; runs in a TensorFlow-backend process.

    Keras' own ``model.export(format="onnx")`` hands tf2onnx a concrete function whose
    captured constants (the Normalization layer's mean and variance) become extra graph inputs;
    freezing first and converting the GraphDef keeps exactly one input, ``image``.
    """
    import tensorflow as tf
    import tf2onnx
    from tf2onnx import tf_loader

    patch_tf2onnx()
    h, w = input_size
    # Build the layers' state by running the model once.
    model(np.zeros((1, h or DEFAULT_SIZE[0], w or DEFAULT_SIZE[1], 3), np.float32),
          training=False)
    fn = tf.function(lambda x: model(x, training=False),
                     input_signature=[tf.TensorSpec((None, h, w, 3), tf.float32, name="image")])
    concrete = fn.get_concrete_function()
    inputs = [concrete.inputs[0].name]
    outputs = [t.name for t in concrete.outputs]
    if len(outputs) != 1:
        raise ValueError(f"{model.name!r} has {len(outputs)} outputs; expected one")
    graph_def = tf_loader.from_function(concrete, inputs, outputs)
    with atomic_path(path, ".onnx") as tmp:
        tf2onnx.convert.from_graph_def(
            graph_def, name=model.name, input_names=inputs, output_names=outputs, opset=opset,
            tensors_to_rename={inputs[0]: "image", outputs[0]: "output"}, output_path=str(tmp))
        import onnx

        onnx.checker.check_model(str(tmp))
    return pathlib.Path(path)


# -- the TensorFlow subprocess -----------------------------------------------------------------

def _in_tensorflow_process(kind, model, path, calibration=None, **job):
    """Save ``model`` and convert it in a ``KERAS_BACKEND=tensorflow`` subprocess."""
    with tempfile.TemporaryDirectory(prefix="keras_rexnet_export_") as tmp:
        tmp = pathlib.Path(tmp)
        model_file = tmp / "model.keras"
        model.save(model_file)
        if calibration is not None:
            np.save(tmp / "calibration.npy", np.asarray(calibration, np.float32))
            job["calibration"] = str(tmp / "calibration.npy")
        job.update(kind=kind, model=str(model_file), output=str(pathlib.Path(path).resolve()),
                   result=str(tmp / "result.json"))
        (tmp / "job.json").write_text(json.dumps(job))
        env = dict(os.environ, KERAS_BACKEND="tensorflow")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "keras_rexnet.tflite._worker", str(tmp / "job.json")],
                env=env, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the TensorFlow conversion process took more than "
                               f"{WORKER_TIMEOUT} s") from None
        result_file = tmp / "result.json"
        result = json.loads(result_file.read_text()) if result_file.is_file() else None
    if result is not None and result.get("ok"):
        return path
    if result is not None and result.get("value_error"):
        raise ValueError(result["message"])
    tail = "\n".join((proc.stderr or "").strip().splitlines()[-15:])
    message = result["message"] if result else f"exit status {proc.returncode}"
    raise RuntimeError(f"{kind} conversion in the TensorFlow subprocess failed: {message}\n"
                       f"{tail}")
