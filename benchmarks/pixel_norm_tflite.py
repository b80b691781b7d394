"""Benchmark (an ablation): the in-graph pixel normalization of the exported TFLite files as a
1x1 depthwise op over the 3 channels of ``(1, H, W, 3)`` vs over the ``W*3`` channels of the
same pixels viewed as ``(1, H, 1, W*3)`` (``fused_pixel_graph(rows=...)``), float32 and int8
(uint8 in and out, as exported), LiteRT XNNPACK at 1 and 2 threads, the files interleaved in
rounds (median of each round; best round shown).

    KERAS_BACKEND=tensorflow python benchmarks/pixel_norm_tflite.py [rexnet_lite_100] [runs]
"""
import os
import pathlib
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np  # noqa: E402

from keras_rexnet import tflite  # noqa: E402
from keras_rexnet.bench import machine_info, seeded_model  # noqa: E402
from keras_rexnet.tflite import export as tflite_export  # noqa: E402

name = sys.argv[1] if len(sys.argv) > 1 else "rexnet_lite_100"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 50
model = seeded_model(name, input_shape=(224, 224, 3))
photos = tflite.sample_photos(64, 224)
tmp = pathlib.Path(tempfile.mkdtemp(prefix="pixel_norm_tflite_"))
paths, outputs = {}, {}
real = tflite_export.fused_pixel_graph
for variant, rows in (("3 channels", False), ("W*3 channels", True)):
    tflite_export.fused_pixel_graph = (
        lambda m, input_size=None, rows=rows, **kw: real(m, input_size=input_size, rows=rows))
    for q in (None, "int8"):
        p = tmp / f"{'rows' if rows else 'channels'}_{q}.tflite"
        tflite.export_tflite(model, p, quantization=q, representative_data=photos if q else None)
        paths[(variant, q or "float32")] = p
        outputs[(variant, q or "float32")] = tflite.run_tflite(p, photos[:16])
tflite_export.fused_pixel_graph = real
info = machine_info()
print(f"{name}; {info['cpu']}, {info['cores']} cores; median of {runs} per round, 3 rounds")
for q in ("float32", "int8"):
    a, b = (outputs[(v, q)].astype(np.float64) for v in ("3 channels", "W*3 channels"))
    print(f"{q}: max |output difference| between the two files on 16 photos: "
          f"{float(np.abs(a - b).max()):.3g}")
res = {}
for _ in range(3):  # interleaved rounds
    for key, p in paths.items():
        for t, ms in tflite.latency(p, threads=(1, 2), runs=runs).items():
            res.setdefault(key + (t,), []).append(ms)
for q in ("float32", "int8"):
    for t in (1, 2):
        row = [f"{v}: {min(res[(v, q, t)]):.3f} ms" for v in ("3 channels", "W*3 channels")]
        print(f"{q:8} {t} thread(s): " + ", ".join(row))
