"""TFLite model metadata: written with tflite-support's ImageClassifier writer, read back here.

Writing goes through ``tensorflow_lite_support.metadata.python.metadata_writers.image_classifier``
(only in the TensorFlow process that converts). Reading parses the flatbuffers directly with the
generated schema modules and ``zipfile``, so checking a file imports neither TensorFlow nor
the interpreter.
"""

import dataclasses
import io
import os
import pathlib
import tempfile
import zipfile

import numpy as np

METADATA_NAME = b"TFLITE_METADATA"
TFLITE_FILE_IDENTIFIER = b"TFL3"  # the schema's file_identifier
LABEL_FILE = "labels.txt"
INPUT_NAME = "image"
OUTPUT_NAME = "probability"

# schema TensorType values that matter here (tensorflow/lite/schema/schema.fbs)
TENSOR_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string",
                6: "bool", 7: "int16", 8: "complex64", 9: "int8", 10: "float64",
                11: "complex128", 12: "uint64", 13: "resource", 14: "variant", 15: "uint32",
                16: "uint16", 17: "int4"}


@dataclasses.dataclass
class TensorInfo:
    index: int
    name: str
    dtype: str
    shape: tuple
    shape_signature: tuple  # -1 marks a dynamic dimension
    scale: tuple = ()
    zero_point: tuple = ()


@dataclasses.dataclass
class ModelInfo:
    """What :func:`read_model` finds in a ``.tflite`` file."""

    inputs: list
    outputs: list
    tensor_types: list  # dtype of every tensor of the main subgraph
    metadata: object  # metadata_schema_py_generated.ModelMetadataT or None
    files: dict  # associated files packed in the model: {name: bytes}
    size: int

    @property
    def normalization(self):
        """``(mean, std)`` lists from the input's NormalizationOptions, or None."""
        md = self.input_metadata
        for unit in (md.processUnits or []) if md is not None else []:
            opts = unit.options
            if hasattr(opts, "mean") and hasattr(opts, "std"):
                return [float(v) for v in opts.mean], [float(v) for v in opts.std]
        return None

    @property
    def input_metadata(self):
        sub = self._subgraph()
        return sub.inputTensorMetadata[0] if sub is not None and sub.inputTensorMetadata else None

    @property
    def output_metadata(self):
        sub = self._subgraph()
        return sub.outputTensorMetadata if sub is not None and sub.outputTensorMetadata else []

    def _subgraph(self):
        if self.metadata is None or not self.metadata.subgraphMetadata:
            return None
        return self.metadata.subgraphMetadata[0]

    def label_files(self, output=0):
        """``[(name, type)]`` of the associated files of output ``output``'s metadata."""
        outs = self.output_metadata
        if output >= len(outs):
            return []
        return [(_s(f.name), f.type) for f in (outs[output].associatedFiles or [])]

    def labels(self, output=0):
        """The TENSOR_AXIS_LABELS file of an output as a list of lines, or None."""
        from tensorflow_lite_support.metadata import metadata_schema_py_generated as mfb

        for name, ftype in self.label_files(output):
            if ftype == mfb.AssociatedFileType.TENSOR_AXIS_LABELS and name in self.files:
                return split_label_file(self.files[name])
        return None


def split_label_file(data):
    """Lines of a label file as the Task Library reads them (a final newline ends the file)."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _s(b):
    return b.decode("utf-8") if isinstance(b, bytes) else b


def _read_bytes(path_or_buffer):
    if isinstance(path_or_buffer, (bytes, bytearray, memoryview)):
        return bytes(path_or_buffer)
    path = pathlib.Path(os.fspath(path_or_buffer))
    if not path.is_file():
        raise ValueError(f"{str(path)!r}: no such file")
    return path.read_bytes()


def _vec(v):
    return tuple(int(x) for x in v) if isinstance(v, np.ndarray) else ()


def read_model(path_or_buffer):
    """Parse a ``.tflite`` file (path or bytes) into a :class:`ModelInfo`.

    Raises ``ValueError`` when the data is not a TFLite flatbuffer.
    """
    from tensorflow_lite_support.metadata import metadata_schema_py_generated as mfb
    from tensorflow_lite_support.metadata import schema_py_generated as sfb

    buf = _read_bytes(path_or_buffer)
    if len(buf) < 8 or buf[4:8] != TFLITE_FILE_IDENTIFIER:
        raise ValueError("not a TFLite model (no TFL3 flatbuffer identifier)")
    model = sfb.Model.GetRootAs(buf, 0)
    if model.SubgraphsLength() < 1:
        raise ValueError("TFLite model without a subgraph")
    graph = model.Subgraphs(0)

    def tensor(i):
        t = graph.Tensors(i)
        q = t.Quantization()
        scale = zp = ()
        if q is not None:
            scale = tuple(float(s) for s in q.ScaleAsNumpy()) if q.ScaleLength() else ()
            zp = tuple(int(z) for z in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else ()
        shape = _vec(t.ShapeAsNumpy())
        sig = _vec(t.ShapeSignatureAsNumpy()) or shape
        return TensorInfo(i, _s(t.Name()), TENSOR_TYPES.get(t.Type(), f"type{t.Type()}"), shape,
                          sig, scale, zp)

    inputs = [tensor(int(i)) for i in graph.InputsAsNumpy()] if graph.InputsLength() else []
    outputs = [tensor(int(i)) for i in graph.OutputsAsNumpy()] if graph.OutputsLength() else []
    types = [TENSOR_TYPES.get(graph.Tensors(i).Type(), "?") for i in range(graph.TensorsLength())]
    metadata = None
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() != METADATA_NAME:
            continue
        b = model.Buffers(entry.Buffer())
        offset = b.Offset() if hasattr(b, "Offset") else 0  # newer schemas: external buffers
        if offset > 1:
            data = buf[offset: offset + b.Size()]
        else:
            data = b.DataAsNumpy().tobytes() if b.DataLength() else b""
        if data:
            metadata = mfb.ModelMetadataT.InitFromObj(mfb.ModelMetadata.GetRootAs(data, 0))
    files = {}
    try:
        with zipfile.ZipFile(io.BytesIO(buf)) as z:
            files = {n: z.read(n) for n in z.namelist()}
    except zipfile.BadZipFile:
        pass
    return ModelInfo(inputs, outputs, types, metadata, files, len(buf))


def read_metadata(path_or_buffer):
    """The metadata of a ``.tflite`` file as a plain dict (None without metadata)."""
    info = read_model(path_or_buffer)
    md = info.metadata
    if md is None:
        return None
    norm = info.normalization
    labels = info.labels()
    return {
        "name": _s(md.name), "description": _s(md.description), "version": _s(md.version),
        "author": _s(md.author), "license": _s(md.license),
        "input_name": _s(info.input_metadata.name) if info.input_metadata else None,
        "norm_mean": norm[0] if norm else None, "norm_std": norm[1] if norm else None,
        "label_files": [n for n, _ in info.label_files()],
        "labels": labels,
    }


def write_metadata(model_buffer, *, norm_mean, norm_std, labels=None, name, description,
                   version, author, license, input_description, output_description):
    """Return ``model_buffer`` with ImageClassifier metadata (and the label file) packed in.

    ``norm_mean``/``norm_std``: the input's NormalizationOptions in pixel units (None: none);
    ``labels``: the lines of the TENSOR_AXIS_LABELS file (None: no label file).
    """
    from tensorflow_lite_support.metadata import metadata_schema_py_generated as mfb
    from tensorflow_lite_support.metadata.python.metadata_writers import (image_classifier,
                                                                          metadata_info,
                                                                          writer_utils)

    model_buffer = bytearray(model_buffer)
    with tempfile.TemporaryDirectory() as tmp:
        label_files = []
        if labels is not None:
            path = pathlib.Path(tmp) / LABEL_FILE
            path.write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
            label_files = [metadata_info.LabelFileMd(str(path))]
        general = metadata_info.GeneralMd(name=name, version=version, description=description,
                                          author=author, licenses=license)
        input_md = metadata_info.InputImageTensorMd(
            name=INPUT_NAME, description=input_description,
            norm_mean=None if norm_mean is None else [float(v) for v in norm_mean],
            norm_std=None if norm_std is None else [float(v) for v in norm_std],
            color_space_type=mfb.ColorSpaceType.RGB,
            tensor_type=writer_utils.get_input_tensor_types(model_buffer)[0])
        output_md = metadata_info.ClassificationTensorMd(
            name=OUTPUT_NAME, description=output_description, label_files=label_files,
            tensor_type=writer_utils.get_output_tensor_types(model_buffer)[0])
        writer = image_classifier.MetadataWriter.create_from_metadata_info(
            model_buffer, general_md=general, input_md=input_md, output_md=output_md)
        return bytes(writer.populate())


def set_input_quantization(model_buffer, scale, zero_point):
    """Overwrite the scale and zero point of the (quantized) input tensor in place.

    Used to pin a uint8 image input to ``scale=1, zero_point=0`` (the value is the pixel) when
    calibration did not span the full [0, 255]. Only valid when every consumer of the input is a
    QUANTIZE op (which then requantizes exactly); the caller checks that.

    Patched in place through the generated schema's public accessors: ``ScaleAsNumpy()`` and
    ``ZeroPointAsNumpy()`` are NumPy views of the buffer (``np.frombuffer``), so writing them
    changes those bytes and no other (the associated-files zip after the flatbuffer included,
    which unpacking and repacking with the object API, ``ModelT``, would drop). Should
    flatbuffers make the views read-only, this raises (``tests/tflite/test_export.py``).
    """
    from tensorflow_lite_support.metadata import schema_py_generated as sfb

    buf = bytearray(model_buffer)
    graph = sfb.Model.GetRootAs(buf, 0).Subgraphs(0)
    q = graph.Tensors(int(graph.InputsAsNumpy()[0])).Quantization()
    if q is None or q.ScaleLength() != 1 or q.ZeroPointLength() != 1:
        raise ValueError("the input tensor is not per-tensor quantized")
    q.ScaleAsNumpy()[0] = scale
    q.ZeroPointAsNumpy()[0] = zero_point
    return bytes(buf)


def input_consumers(model_buffer):
    """Builtin operator names of the ops that read the model's input tensor."""
    from tensorflow_lite_support.metadata import schema_py_generated as sfb

    names = {v: k for k, v in vars(sfb.BuiltinOperator).items() if not k.startswith("_")}
    model = sfb.Model.GetRootAs(bytes(model_buffer), 0)
    graph = model.Subgraphs(0)
    inp = int(graph.InputsAsNumpy()[0])
    out = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        if op.InputsLength() and inp in op.InputsAsNumpy().tolist():
            code = model.OperatorCodes(op.OpcodeIndex())
            c = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            out.append(names.get(c, f"op{c}"))
    return out


def op_versions(model_buffer):
    """``[(builtin operator name, version)]`` of every operator code of a ``.tflite`` file (path
    or bytes), sorted: what a runtime must know to load it (an older runtime refuses an op
    version it does not know). Custom ops read as ``CUSTOM:name``."""
    from tensorflow_lite_support.metadata import schema_py_generated as sfb

    buf = _read_bytes(model_buffer)
    if len(buf) < 8 or buf[4:8] != TFLITE_FILE_IDENTIFIER:
        raise ValueError("not a TFLite model (no TFL3 flatbuffer identifier)")
    names = {v: k for k, v in vars(sfb.BuiltinOperator).items() if not k.startswith("_")}
    model = sfb.Model.GetRootAs(buf, 0)
    found = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        c = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = names.get(c, f"op{c}")
        if name == "CUSTOM":
            name = f"CUSTOM:{_s(code.CustomCode())}"
        found.add((name, int(code.Version())))
    return sorted(found)
