"""Benchmark (an ablation): the partial-channel shortcut in TFLite, written as it is
(``out[..., :c] + x`` concatenated with ``out[..., c:]``) vs ``out + pad(x)``, float32 and int8,
LiteRT XNNPACK at 1 and 2 threads, the variants interleaved three times (best median shown).

    python benchmarks/shortcut_tflite.py [rexnet_lite_100] [runs]
"""
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from keras_rexnet.bench import machine_info  # noqa: E402
from keras_rexnet import layers as L  # noqa: E402
from keras_rexnet import tflite  # noqa: E402
from keras_rexnet.bench import seeded_model  # noqa: E402

name = sys.argv[1] if len(sys.argv) > 1 else "rexnet_lite_100"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 50
orig = L.PartialShortcut.call

def pad_call(self, inputs):
    out, x = inputs
    extra = ops.shape(out)[-1] - ops.shape(x)[-1]
    if isinstance(extra, int) and extra == 0:
        return out + x
    return out + ops.pad(x, ((0, 0), (0, 0), (0, 0), (0, extra)))

photos = tflite.sample_photos(64, 224)
tmp = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / "shortcut_tflite"
tmp.mkdir(exist_ok=True)
paths = {}
x = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)).astype("float32")
outs = {}
for variant, call in (("concat", orig), ("pad", pad_call)):
    L.PartialShortcut.call = call
    model = seeded_model(name, input_shape=(224, 224, 3))
    outs[variant] = np.asarray(model.predict_on_batch(x))
    for q in (None, "int8"):
        p = tmp / f"{name}_{variant}_{q}.tflite"
        tflite.export_tflite(model, p, quantization=q,
                             representative_data=photos if q else None)
        paths[(variant, q)] = p
L.PartialShortcut.call = orig
info = machine_info()
print(f"{name}; {info['cpu']}, {info['cores']} cores")
print("keras max |diff| pad vs concat:", float(np.abs(outs["pad"] - outs["concat"]).max()))
res = {}
for rep in range(3):  # interleaved
    for key, p in paths.items():
        for t, ms in tflite.latency(p, threads=(1, 2), runs=runs).items():
            res.setdefault((key, t), []).append(ms)
for (key, t), v in sorted(res.items(), key=lambda kv: (kv[0][1], kv[0][0][1] or "", kv[0][0][0])):
    print(f"{key[0]:7} {key[1] or 'float32':8} {t} thread(s): {min(v):.2f} ms (medians {['%.2f' % a for a in v]})")
