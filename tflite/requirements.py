"""What TFLite and ONNX export need, checked before any conversion work.

``pip install keras-rexnet[tflite]`` installs everything but tflite-support, whose metadata
writers are installed with ``--no-deps`` (it pins protobuf<4, which TensorFlow does not accept;
the writers work with TensorFlow's protobuf): see ``scripts/install.sh``. :func:`require` finds
the modules without importing TensorFlow (the conversion may run in a TensorFlow subprocess) and
raises one :class:`MissingRequirement` line naming every missing install step.
"""

import importlib
import importlib.util

TFLITE_EXTRA = "pip install 'keras-rexnet[tflite]'"
TFLITE_SUPPORT = "pip install --no-deps tflite-support==0.4.4"

# module -> (what it is, the install step)
TENSORFLOW = ("tensorflow", "TensorFlow (the converter)", "pip install 'tensorflow-cpu>=2.16'")
SCHEMA = ("tensorflow_lite_support.metadata.schema_py_generated",
          "tflite-support's flatbuffer schema", TFLITE_SUPPORT)
WRITERS = ("tensorflow_lite_support.metadata.python.metadata_writers.image_classifier",
           "tflite-support's metadata writers", TFLITE_SUPPORT)
# The writers' native libraries, loaded without TensorFlow (they need Debian's libusb-1.0-0).
NATIVE = ("tensorflow_lite_support.metadata.cc.python._pywrap_metadata_version",
          "tensorflow_lite_support.metadata.flatbuffers_lib._pywrap_flatbuffers")
FLATBUFFERS = ("flatbuffers", "flatbuffers (for tflite-support)", "pip install flatbuffers")
LITERT = ("ai_edge_litert", "ai-edge-litert (runs the file)", TFLITE_EXTRA)
TF2ONNX = ("tf2onnx", "tf2onnx (the ONNX converter)", TFLITE_EXTRA)
ONNX = ("onnx", "onnx (checks the file)", TFLITE_EXTRA)
ONNXRUNTIME = ("onnxruntime", "onnxruntime (runs the file)", TFLITE_EXTRA)
PILLOW = ("PIL", "Pillow (reads images)", "pip install pillow")


class MissingRequirement(ImportError):
    """A module the export needs is not installed; the message is one line with the fix."""


def _found(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or sys.modules[name] = None
        return False


def _native_problem():
    """Why tflite-support's native libraries do not load, or None."""
    for module in NATIVE:
        try:
            importlib.import_module(module)
        except ImportError as e:
            return " ".join(str(e).split())
    return None


def missing(fmt="tflite", metadata=True, evaluate=False, images=False):
    """``[(what, install step)]`` of what an export in ``fmt`` ("tflite" or "onnx") lacks.

    ``metadata``: TFLite metadata is written; ``evaluate``: the file is run afterwards
    (ai-edge-litert or onnxruntime); ``images``: images are read from files (Pillow).
    """
    wanted = [TENSORFLOW]
    if fmt == "tflite":
        wanted += [SCHEMA, FLATBUFFERS]  # the exported file is always read back and checked
        if metadata:
            wanted.append(WRITERS)
        if evaluate:
            wanted.append(LITERT)
    elif fmt == "onnx":
        wanted += [TF2ONNX, ONNX]
        if evaluate:
            wanted.append(ONNXRUNTIME)
    else:
        raise ValueError(f"unknown export format {fmt!r}; expected 'tflite' or 'onnx'")
    if images:
        wanted.append(PILLOW)
    out = [(what, step) for module, what, step in wanted if not _found(module)]
    if fmt == "tflite" and metadata and not out:
        problem = _native_problem()
        if problem:
            step = ("apt-get install libusb-1.0-0" if "libusb" in problem else
                    f"reinstall it: {TFLITE_SUPPORT}")
            out.append((f"tflite-support's native metadata library ({problem})", step))
    return out


def require(fmt="tflite", metadata=True, evaluate=False, images=False):
    """Raise :class:`MissingRequirement` (one line) unless the export's modules are installed."""
    lacking = missing(fmt, metadata=metadata, evaluate=evaluate, images=images)
    if lacking:
        name = {"tflite": "TFLite", "onnx": "ONNX"}[fmt]
        steps = []
        for _, step in lacking:  # one install step once, in order
            if step not in steps:
                steps.append(step)
        raise MissingRequirement(f"{name} export needs {', '.join(w for w, _ in lacking)}: "
                                 + "; ".join(steps))
