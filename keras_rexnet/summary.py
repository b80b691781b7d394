"""Model summaries for people: parameters, MACs and per-stage shapes.

Computed from the spec (pure Python, no Keras): the numbers are those of the Keras model
``create_model(name, input_shape=(*input_size, 3))`` (tests/common/test_summary.py checks).
"""

from keras_rexnet import spec as specs
from keras_rexnet.macs import spec_macs

MIN_SIZE = 32  # keras_rexnet.model.MIN_SIZE (not imported: it would import Keras)


def model_row(name, input_size=(224, 224), classes=1000):
    """``{name, params, macs, output}`` of a named model at ``input_size`` (height, width)."""
    spec = specs.spec_by_name(name)
    if len(input_size) != 2 or min(input_size) < MIN_SIZE:  # as the builders refuse
        raise ValueError(f"Input size must be at least {MIN_SIZE}x{MIN_SIZE}; received "
                         f"input_size={tuple(input_size)}")
    return {"name": name, "params": spec.trainable_params(classes=classes),
            "macs": spec_macs(spec, input_size, classes=classes), "output": (None, classes)}


def stage_rows(name, input_size=(224, 224)):
    """Per output stride: the last block there, its channels and spatial size."""
    spec = specs.spec_by_name(name)
    h, w = input_size
    rows = []
    for stride, index in sorted(spec.feature_blocks().items()):
        sh, sw = h, w
        for _ in range(stride.bit_length() - 1):  # log2 of the power-of-two stride
            sh, sw = (sh + 1) // 2, (sw + 1) // 2  # k=3, pad=1, stride 2: ceil
        rows.append({"stride": stride, "block": index,
                     "channels": spec.blocks[index].out_channels, "size": (sh, sw)})
    return rows


def format_table(rows, columns):
    """A plain-text table of dict rows."""
    text = [[str(r[c]) if not isinstance(r[c], int) else f"{r[c]:,}" for c in columns]
            for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(t[i].ljust(w) for i, w in enumerate(widths)) for t in text]
    return "\n".join(out)
