"""Model summaries for people: parameters, MACs and per-stage shapes."""

import numpy as np

from keras_rexnet import spec as specs
from keras_rexnet.macs import count_macs


def model_row(name, input_size=(224, 224)):
    """``{name, params, macs, output}`` of a named model built at ``input_size``."""
    from keras_rexnet.model import create_model

    model = create_model(name, input_shape=(*input_size, 3))
    params = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return {"name": name, "params": params, "macs": count_macs(model),
            "output": tuple(model.output.shape)}


def stage_rows(name, input_size=(224, 224)):
    """Per output stride: the last block there, its channels and spatial size."""
    spec = specs.spec_by_name(name)
    h, w = input_size
    rows = []
    for stride, index in sorted(spec.feature_blocks().items()):
        sh, sw = h, w
        for _ in range(int(np.log2(stride))):
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
