"""Layer-by-layer equivalence between a converted Keras model and its PyTorch source.

The same seeded input runs through the PyTorch model the checkpoint holds -- computed
without torch, by the NumPy oracle :mod:`keras_rexnet.converters.oracle` (float64, PyTorch's
padding, BatchNorm eps and activations, weights read in PyTorch's shapes) for every layout,
official and timm -- and through the Keras model; stem, every block, head, pooled features
and logits are compared. The oracle reproduces the official code's output vectors
(``tests/data/vectors``) and timm's models (``tests/common/test_oracle.py``).

Per layer the report gives ``max_abs`` (max |keras - oracle|) and ``max_rel``
(``max_abs`` divided by the largest |oracle| value of that layer: a scale-free
figure that stays meaningful where activations are large). A layer passes when
``max_rel <= tolerance``; the logits must also satisfy ``max_abs <= tolerance``.
Shapes in the report are PyTorch's (NCHW for feature maps).
"""

import dataclasses
import json
import time

import numpy as np

from keras_rexnet.converters import oracle
from keras_rexnet.model import block_output_name


@dataclasses.dataclass
class LayerDiff:
    name: str
    shape: tuple
    max_abs: float
    max_rel: float
    ok: bool


@dataclasses.dataclass
class Report:
    checkpoint: str
    layout: str
    model: str
    input_size: tuple
    tolerance: float
    layers: list
    seconds: float = 0.0

    @property
    def first_failure(self):
        """Name of the first layer outside the tolerance, or None."""
        return next((d.name for d in self.layers if not d.ok), None)

    @property
    def passed(self):
        return self.first_failure is None

    @property
    def worst(self):
        return max(self.layers, key=lambda d: d.max_rel)

    @property
    def logits(self):
        return self.layers[-1]

    def to_dict(self):
        return {"checkpoint": self.checkpoint, "layout": self.layout, "model": self.model,
                "input_size": list(self.input_size), "tolerance": self.tolerance,
                "passed": self.passed, "first_failure": self.first_failure,
                "seconds": round(self.seconds, 3),
                "layers": [dict(dataclasses.asdict(d), shape=list(d.shape)) for d in self.layers]}

    def to_json(self, path=None):
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        return text

    def table(self):
        rows = [f"{'layer':<22} {'shape':<22} {'max abs':>11} {'max rel':>11}  ok"]
        for d in self.layers:
            rows.append(f"{d.name:<22} {str(tuple(d.shape)):<22} {d.max_abs:11.3e} "
                        f"{d.max_rel:11.3e}  {'yes' if d.ok else 'NO'}")
        verdict = ("all layers within tolerance" if self.passed
                   else f"first layer over tolerance: {self.first_failure}")
        rows.append(f"{self.model} ({self.layout}), input {self.input_size[0]}x"
                    f"{self.input_size[1]}, tolerance {self.tolerance:g}: {verdict}")
        return "\n".join(rows)


def compared_layers(spec):
    """Keras layer names compared, in order: stem, blocks, head, pool, logits."""
    names = ["stem_act"] + [block_output_name(b) for b in spec.blocks]
    if spec.head.channels is not None:
        names.append("head_act")
    return names + ["avg_pool", "predictions"]


def verify_model(model, spec, state, layout, checkpoint="", input_size=(224, 224),
                 tolerance=1e-4, seed=0, batch=2):
    """Compare ``model`` (holding the converted weights) with the NumPy oracle of ``state``.

    ``model`` may have any classifier activation and preprocessing: its weights are
    copied into a twin that gives normalized-input logits and every compared layer.
    """
    import keras

    from keras_rexnet.model import build_from_spec, model_data_format

    start = time.time()
    classes = model.get_layer("predictions").units
    stem_in = model.get_layer("stem_conv").kernel.shape[2]
    if stem_in != spec.in_channels:
        raise ValueError(f"{model.name!r} takes {stem_in} input channels; the checkpoint's model "
                         f"(and the oracle) {spec.in_channels}: verify a {spec.in_channels}-channel "
                         "model")
    # The model's own layout (channels first or last); the oracle works in NHWC.
    data_format = model_data_format(model)
    first = data_format == "channels_first"
    twin = build_from_spec(spec, weights=None, classes=classes, classifier_activation=None,
                           include_preprocessing=False, dropout_rate=0.0,
                           kernel_initializer="zeros", data_format=data_format)
    for layer in twin.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    names = compared_layers(spec)
    probe = keras.Model(twin.inputs, [twin.get_layer(n).output for n in names])
    h, w = input_size
    x = np.random.default_rng(seed).standard_normal((batch, h, w, 3)).astype(np.float32)
    # The oracle first: right after a TensorFlow predict the framework's idle worker threads
    # still spin and slow NumPy's BLAS threads down several times on a 2-core machine.
    theirs = oracle.intermediates(spec, state, layout, x, classes=classes)
    ours = probe.predict(x.transpose(0, 3, 1, 2) if first else x, verbose=0)
    diffs = []
    for name, a in zip(names, ours):
        a = np.asarray(a)
        if first and a.ndim == 4:
            a = a.transpose(0, 2, 3, 1)  # NCHW -> NHWC, as the oracle's
        b = theirs[name]
        if b.shape != a.shape:
            raise ValueError(f"layer {name!r}: the Keras model gives shape {a.shape}, the "
                             f"checkpoint's model {b.shape}")
        max_abs = float(np.abs(a - b).max())
        max_rel = max_abs / max(float(np.abs(b).max()), 1e-12)
        ok = max_rel <= tolerance and (name != "predictions" or max_abs <= tolerance)
        shape = (a.shape[0], a.shape[3], a.shape[1], a.shape[2]) if a.ndim == 4 else a.shape
        diffs.append(LayerDiff(name, tuple(shape), max_abs, max_rel, ok))
    return Report(str(checkpoint), layout, model.name, tuple(input_size), tolerance, diffs,
                  time.time() - start)
