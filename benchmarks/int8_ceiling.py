"""Benchmark (a bound): how low can the int8 / float32 TFLite latency ratio of a ReXNet-lite
file go by changing the graph around the convolutions?

Exports float32 and int8 twins of graphs that are progressively *not the model any more*:
the shipped file (uint8 in and out); int8 in and out (no input/output QUANTIZE op); no in-graph
pixel normalization; no partial-channel shortcuts (the block output alone). Each pair is
converted the same way (``_converter_options``) and timed in LiteRT XNNPACK at 1 and 2 threads,
all files interleaved in rounds (median of each round; best round shown). If even the stripped
graphs stay above a ratio, no rewrite of what surrounds the convolutions gets below it.

    KERAS_BACKEND=tensorflow python benchmarks/int8_ceiling.py [rexnet_lite_100] [runs]
"""
import os
import pathlib
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_rexnet import layers as L  # noqa: E402
from keras_rexnet import tflite  # noqa: E402
from keras_rexnet.bench import machine_info, seeded_model  # noqa: E402
from keras_rexnet.tflite.export import (_check_full_integer, _converter_options,  # noqa: E402
                                        fused_pixel_graph)

name = sys.argv[1] if len(sys.argv) > 1 else "rexnet_lite_100"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 40
SIZE = (224, 224)
shortcut = L.PartialShortcut.call


def no_shortcut(self, inputs):
    return inputs[0]


# (label, shortcut call, normalization in the graph, int8 file I/O type)
VARIANTS = [("shipped graph (uint8 I/O)", shortcut, True, tf.uint8),
            ("int8 I/O", shortcut, True, tf.int8),
            ("int8 I/O, no normalization", shortcut, False, tf.int8),
            ("int8 I/O, no normalization, no shortcuts", no_shortcut, False, tf.int8)]
photos = tflite.sample_photos(64, SIZE[0]).astype("float32")
tmp = pathlib.Path(tempfile.mkdtemp(prefix="int8_ceiling_"))
paths = {}
try:
    for i, (label, call, norm, io) in enumerate(VARIANTS):
        L.PartialShortcut.call = call
        model = seeded_model(name, input_shape=SIZE + (3,), include_preprocessing=norm)
        if norm:
            model = fused_pixel_graph(model, input_size=SIZE)
        calibration = photos if norm else (photos - 127.5) / 64.0
        for q in ("float32", "int8"):
            options = _converter_options("int8" if q == "int8" else None, calibration)
            if q == "int8":
                options["inference_input_type"] = options["inference_output_type"] = io
            p = tmp / f"{i}_{q}.tflite"
            model.export(str(p), format="litert", verbose=False,
                         input_signature=[keras.InputSpec(shape=(1,) + SIZE + (3,),
                                                          dtype="float32")], **options)
            if q == "int8" and io == tf.uint8:
                p.write_bytes(_check_full_integer(p.read_bytes()))
            paths[(label, q)] = p
finally:
    L.PartialShortcut.call = shortcut
res = {}
for _ in range(3):  # interleaved rounds
    for key, p in paths.items():
        for t, ms in tflite.latency(p, threads=(1, 2), runs=runs).items():
            res.setdefault(key + (t,), []).append(ms)
info = machine_info()
print(f"{name}; {info['cpu']}, {info['cores']} cores; median of {runs} per round, 3 rounds")
for t in (1, 2):
    print(f"{t} thread(s)")
    for label, *_ in VARIANTS:
        f, i = min(res[(label, "float32", t)]), min(res[(label, "int8", t)])
        print(f"  {label:42} float32 {f:6.3f} ms  int8 {i:6.3f} ms  int8/float32 {i / f:.2f}")
