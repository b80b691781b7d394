"""keras-rexnet: the ReXNet model family (CVPR 2021) for Keras 3 on TensorFlow, JAX and PyTorch."""

from keras_rexnet.deploy import fold_batchnorm, inference_function
from keras_rexnet.errors import CheckpointError
from keras_rexnet.imagenet import decode_predictions, preprocess_input
from keras_rexnet.layers import PartialShortcut
from keras_rexnet.macs import count_macs
from keras_rexnet.pretrained import PretrainedError, fetch_weights, pretrained_cfg
from keras_rexnet import analysis, spec
from keras_rexnet.model import (ReXNetPlain, ReXNetV1, ReXNetV1Lite, build_from_spec,
                                create_model, feature_extractor, list_models)

__version__ = "0.1.0"


def export_onnx(model, path, **kwargs):
    """Export a model to ONNX; see :func:`keras_rexnet.tflite.export_onnx`."""
    from keras_rexnet.tflite import export_onnx as _export_onnx

    return _export_onnx(model, path, **kwargs)


__all__ = [
    "CheckpointError", "PartialShortcut", "PretrainedError", "ReXNetPlain", "ReXNetV1",
    "ReXNetV1Lite", "analysis", "build_from_spec", "count_macs", "create_model",
    "decode_predictions", "export_onnx", "feature_extractor", "fetch_weights", "fold_batchnorm",
    "inference_function", "list_models",
    "pretrained_cfg", "preprocess_input", "spec",
]
