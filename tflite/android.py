"""Will an Android app load this ``.tflite`` file? Asked of the runtimes apps use, plus the rules
no runtime checks.

:func:`android_report` loads the file in MediaPipe Tasks' ``ImageClassifier`` and in the TFLite
Task Library's (``keras_rexnet.tflite.runtimes``), runs TensorFlow Lite's GPU delegate analyzer,
and lists the ops with their versions, the size and the input/output types. :func:`rule_violations`
is this project's offline copy of the Task Library's rules (``BuildInputImageTensorSpecs``,
``cc/task/vision/utils/image_tensor_specs.cc``, and ``ImageClassifier::CheckAndSetOutputs``,
``cc/task/vision/image_classifier.cc``, of tflite-support) with what no runtime checks: the labels
packed in the file, one per class. It still answers where a runtime is not installed.
"""

import contextlib
import dataclasses
import os
import pathlib
import tempfile

from keras_rexnet.tflite.metadata import _read_bytes, op_versions, read_model


@dataclasses.dataclass
class AndroidReport:
    """What :func:`android_report` found for one file."""

    size: int
    input: str  # e.g. "uint8 1x224x224x3"
    output: str
    ops: list  # [(op name, version)]
    mediapipe: object  # None: loads; str: its error text
    task_library: object
    unchecked: dict  # {runtime: why it was not asked} (not installed)
    gpu: object  # runtimes.GpuAnalysis, or None when not analysed
    gpu_error: str  # why there is no GPU analysis ("" when there is one)
    rules: list  # rule_violations()

    @property
    def violations(self):
        """Every objection: each runtime's refusal (its own words), then the rules'."""
        from keras_rexnet.tflite.runtimes import MEDIAPIPE, TASK_LIBRARY

        out = [f"{name} refuses the file: {err}"
               for name, err in ((MEDIAPIPE, self.mediapipe), (TASK_LIBRARY, self.task_library))
               if err is not None]
        return out + list(self.rules)

    def summary(self):
        from keras_rexnet.tflite.runtimes import MEDIAPIPE, TASK_LIBRARY

        lines = [f"size {self.size / 1e6:.2f} MB, input {self.input}, output {self.output}"]
        for name, err in ((MEDIAPIPE, self.mediapipe), (TASK_LIBRARY, self.task_library)):
            if name in self.unchecked:
                lines.append(f"{name}: not checked ({self.unchecked[name]})")
            else:
                lines.append(f"{name}: {'loads it' if err is None else 'refuses it: ' + err}")
        if self.gpu is not None:
            lines.append(f"GPU delegate: {self.gpu.summary()}")
            for index, name, reason in self.gpu.fallback:
                lines.append(f"  - Op#{index} {name}: {reason}")
        else:
            lines.append(f"GPU delegate: not analysed ({self.gpu_error})")
        lines.append("ops: " + ", ".join(f"{name} v{v}" for name, v in self.ops))
        if self.violations:
            lines.append("Android runtimes would reject this file:")
            lines += [f"  - {v}" for v in self.violations]
        else:
            lines.append("Android runtimes: no objections")
        return "\n".join(lines)


@contextlib.contextmanager
def _as_file(path):
    """``path`` as a file path (bytes are written to a temporary file)."""
    if isinstance(path, (bytes, bytearray, memoryview)):
        with tempfile.TemporaryDirectory(prefix="keras_rexnet_android_") as tmp:
            file = pathlib.Path(tmp) / "model.tflite"
            file.write_bytes(bytes(path))
            yield file
    else:
        yield pathlib.Path(os.fspath(path))


def _tensor(t):
    return f"{t.dtype} {'x'.join(str(d) for d in t.shape)}"


def android_report(path, runtimes=True, gpu=True):
    """Load ``path`` (a file or the model's bytes) in the Android runtimes and report.

    ``runtimes``: ask MediaPipe Tasks and the Task Library (each skipped, and said so, when not
    installed); ``gpu``: run TensorFlow Lite's GPU delegate analyzer (needs TensorFlow).
    Raises ``ValueError`` when the data is not a TFLite file.
    """
    from keras_rexnet.tflite import runtimes as rt

    buf = _read_bytes(path)
    info = read_model(buf)
    rules = rule_violations(buf)
    mediapipe = task_library = None
    unchecked = {}
    analysis, gpu_error = None, "not asked"
    with _as_file(path) as f:
        if runtimes:
            for name, ask in ((rt.MEDIAPIPE, rt.mediapipe_error),
                              (rt.TASK_LIBRARY, rt.task_library_error)):
                try:
                    err = ask(f)
                except rt.RuntimeUnavailable as e:
                    unchecked[name] = str(e)
                    continue
                if name == rt.MEDIAPIPE:
                    mediapipe = err
                else:
                    task_library = err
        else:
            unchecked = {rt.MEDIAPIPE: "not asked", rt.TASK_LIBRARY: "not asked"}
        if gpu:
            try:
                analysis, gpu_error = rt.gpu_analysis(buf), ""
            except ImportError as e:
                gpu_error = f"TensorFlow's analyzer is not importable: {e}"
    return AndroidReport(
        size=info.size, input=", ".join(_tensor(t) for t in info.inputs),
        output=", ".join(_tensor(t) for t in info.outputs), ops=op_versions(buf),
        mediapipe=mediapipe, task_library=task_library, unchecked=unchecked, gpu=analysis,
        gpu_error=gpu_error, rules=rules)


def check_android(path, runtimes=True):
    """Every objection to ``path`` (a file or the model's bytes) that an Android app would meet:
    MediaPipe Tasks' and the Task Library's refusals (their own error text, when they are
    installed), then :func:`rule_violations`. Empty: both runtimes load it."""
    return android_report(path, runtimes=runtimes, gpu=False).violations


def rule_violations(path):
    """The Task Library ImageClassifier's rules, checked offline (empty: none broken).

    Rules: one input tensor, 1xHxWx3 with fixed H, W > 0, uint8 or float32; input metadata (if
    any) for one tensor, ImageProperties in RGB; NormalizationOptions present for float32
    input, with 1 or 3 values, as many std as mean, no zero std; one [1, N] or [1, 1, 1, N]
    output per output metadata entry, uint8 or float32, all quantized or none; a
    TENSOR_AXIS_LABELS file packed in the model with exactly N lines for each output.
    ``path``: a file path or the model's bytes.
    """
    from tensorflow_lite_support.metadata import metadata_schema_py_generated as mfb

    info = read_model(path)
    v = []
    md = info.metadata
    sub = md.subgraphMetadata[0] if md is not None and md.subgraphMetadata else None
    in_md = None
    if md is None:
        v.append("no TFLITE_METADATA: the Task Library needs input normalization (for float "
                 "input) and the label file from the model's metadata")
    elif sub is None:
        v.append("metadata without subgraph metadata (no input/output tensor metadata)")
    else:
        n_in_md = len(sub.inputTensorMetadata or [])
        if n_in_md != 1:
            v.append(f"input metadata describes {n_in_md} tensors; models are assumed to have "
                     "a single input TensorMetadata")
        else:
            in_md = sub.inputTensorMetadata[0]

    # Input tensor.
    if len(info.inputs) != 1:
        v.append(f"{len(info.inputs)} input tensors; models are assumed to have a single input")
    norm = None
    if in_md is not None:
        content = in_md.content
        if content is not None and content.contentProperties is not None:
            if content.contentPropertiesType != mfb.ContentProperties.ImageProperties:
                v.append("input metadata content is not ImageProperties")
            elif content.contentProperties.colorSpace != mfb.ColorSpaceType.RGB:
                v.append("input ImageProperties color space is not RGB (only RGB is supported)")
        for unit in in_md.processUnits or []:
            if unit.optionsType == mfb.ProcessUnitOptions.NormalizationOptions:
                norm = unit.options
                break
        if norm is not None:
            mean = list(norm.mean) if norm.mean is not None else []
            std = list(norm.std) if norm.std is not None else []
            if len(mean) != len(std):
                v.append(f"NormalizationOptions: {len(mean)} mean but {len(std)} std values")
            elif len(mean) not in (1, 3):
                v.append(f"NormalizationOptions: only 1 or 3 mean and std values are supported, "
                         f"got {len(mean)}")
            if any(s == 0 for s in std):
                v.append("NormalizationOptions: a std value is 0")
    if info.inputs:
        t = info.inputs[0]
        if len(t.shape) != 4:
            v.append(f"input {t.name!r} has shape {list(t.shape)}; only 4D tensors in BHWD "
                     "layout are supported")
        else:
            b, h, w, c = t.shape
            if b != 1 or c != 3:
                v.append(f"input {t.name!r} is {b}x{h}x{w}x{c}; it must be 1 x height x width x 3")
            if h <= 0 or w <= 0 or any(d < 0 for d in t.shape_signature[1:3]):
                v.append(f"input {t.name!r} has no fixed positive height and width "
                         f"(signature {list(t.shape_signature)})")
        if t.dtype not in ("uint8", "float32"):
            v.append(f"input {t.name!r} is {t.dtype}; the Task Library takes uint8 or float32")
        if t.dtype == "float32" and norm is None:
            v.append(f"input {t.name!r} is float32 but the metadata has no NormalizationOptions "
                     "(required to preprocess images for float input)")

    # Output tensors.
    out_md = (sub.outputTensorMetadata or []) if sub is not None else []
    if sub is not None and sub.outputTensorMetadata is not None and \
            len(out_md) != len(info.outputs):
        v.append(f"{len(info.outputs)} output tensors but output metadata for {len(out_md)}")
    quantized = 0
    for i, t in enumerate(info.outputs):
        shape = list(t.shape)
        if len(shape) == 4:
            if shape[1] != 1 or shape[2] != 1:
                v.append(f"output {i} is {shape}; a 4D output must be [1, 1, 1, N]")
        elif len(shape) != 2:
            v.append(f"output {i} has {len(shape)} dimensions; expected [1, N] or [1, 1, 1, N]")
        if shape and shape[0] != 1:
            v.append(f"output {i} has batch size {shape[0]}; it must be 1")
        if t.dtype == "uint8":
            quantized += 1
        elif t.dtype != "float32":
            v.append(f"output {i} ({t.name!r}) is {t.dtype}; expected uint8 or float32")
        n = shape[-1] if shape else 0
        labels = None
        label_names = [name for name, ftype in info.label_files(i)
                       if ftype == mfb.AssociatedFileType.TENSOR_AXIS_LABELS]
        if i < len(out_md):
            if not label_names:
                v.append(f"output {i} metadata has no TENSOR_AXIS_LABELS file")
            elif label_names[0] not in info.files:
                v.append(f"label file {label_names[0]!r} of output {i} is not packed in the model")
            else:
                labels = info.labels(i)
        elif md is not None:
            v.append(f"output {i} has no tensor metadata (no label file)")
        if labels is not None and len(labels) != n:
            v.append(f"label file {label_names[0]!r} has {len(labels)} lines but output {i} has "
                     f"{n} classes")
    if quantized and quantized != len(info.outputs):
        v.append(f"{quantized} of {len(info.outputs)} outputs are quantized; all provided "
                 "outputs must be quantized, or none")
    return v
