"""keras-rexnet: the ReXNet model family (CVPR 2021) for Keras 3 on TensorFlow, JAX and PyTorch.

The public names load on first use (PEP 562): ``import keras_rexnet`` imports neither Keras
nor a backend, so the ``keras-rexnet`` command and ``keras_rexnet.spec`` start at once, and
``keras_rexnet.ReXNetV1`` or ``from keras_rexnet import ReXNetV1`` import Keras when asked.

The custom layers (``keras_rexnet.layers``) register with Keras as soon as Keras is
imported, in either order (``import keras_rexnet`` before or after ``import keras``), so a
saved ``.keras`` file loads with ``keras.saving.load_model`` and no ``custom_objects``.
"""

import importlib
import sys

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "CheckpointError": "keras_rexnet.errors",
    "DropPath": "keras_rexnet.layers",
    "PartialShortcut": "keras_rexnet.layers",
    "PretrainedError": "keras_rexnet.pretrained",
    "ReXNetPlain": "keras_rexnet.model",
    "ReXNetV1": "keras_rexnet.model",
    "ReXNetV1Lite": "keras_rexnet.model",
    "build_from_spec": "keras_rexnet.model",
    "count_macs": "keras_rexnet.macs",
    "create_model": "keras_rexnet.model",
    "decode_predictions": "keras_rexnet.imagenet",
    "feature_extractor": "keras_rexnet.model",
    "fetch_weights": "keras_rexnet.pretrained",
    "fold_batchnorm": "keras_rexnet.deploy",
    "inference_function": "keras_rexnet.deploy",
    "list_models": "keras_rexnet.model",
    "pretrained_cfg": "keras_rexnet.pretrained",
    "preprocess_input": "keras_rexnet.imagenet",
    "save_pretrained": "keras_rexnet.hub",
}
_SUBMODULES = ("analysis", "spec")


def export_onnx(model, path, **kwargs):
    """Export a model to ONNX; see :func:`keras_rexnet.tflite.export_onnx`."""
    from keras_rexnet.tflite import export_onnx as _export_onnx

    return _export_onnx(model, path, **kwargs)


# Derived, so that a name added to _EXPORTS is public at once.
__all__ = [*_EXPORTS, *_SUBMODULES, "export_onnx"]  # noqa: PLE0604


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES or (not name.startswith("__") and _is_submodule(name)):
        # any submodule, as when this package imported them all (keras_rexnet.layers, .tflite)
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def _is_submodule(name):
    import importlib.util

    try:
        return importlib.util.find_spec(f"{__name__}.{name}") is not None
    except (ImportError, ValueError):
        return False


def __dir__():
    return sorted(set(globals()) | set(__all__))


# -- registering the custom layers when Keras is imported ---------------------------------------

def _wrap_import(module_name, wrap):
    """Have the first import of ``module_name`` run ``wrap(exec_module)(module)``.

    A ``sys.meta_path`` finder: each lookup of ``module_name`` (``importlib.util.find_spec``
    included) gets the other finders' spec with its loader's ``exec_module`` replaced by
    ``wrap(exec_module)`` (that loader instance serves this one module); the finder removes
    itself when the module is executed. Returns False, and does nothing, when the module is
    already imported.
    """
    if module_name in sys.modules:
        return False

    class _Finder:
        @staticmethod
        def find_spec(fullname, path=None, target=None):
            if fullname != module_name:
                return None
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                spec = find(fullname, path, target) if find and finder is not _Finder else None
                if spec is not None:
                    break
            else:
                return None
            exec_module = getattr(spec.loader, "exec_module", None)
            if exec_module is not None:
                wrapped = wrap(exec_module)

                def exec_once(module):
                    sys.meta_path[:] = [f for f in sys.meta_path if f is not _Finder]
                    wrapped(module)

                spec.loader.exec_module = exec_once
            return spec

    sys.meta_path.insert(0, _Finder)
    return True


def _registering_layers(exec_module):
    def exec_keras_then_register(module):
        exec_module(module)
        importlib.import_module("keras_rexnet.layers")

    return exec_keras_then_register


if not _wrap_import("keras", _registering_layers):
    importlib.import_module("keras_rexnet.layers")  # Keras is already loaded: register now
