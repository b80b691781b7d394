"""Benchmark: CPU inference and training speed of the Keras models beside timm, in one run.

For each model (ReXNetV1 1.0/1.5/2.0, lite 1.0 by default) and batch size (1 and 32, 224x224):
  * Keras on each backend (one subprocess per backend), through ``predict_on_batch`` and
    through the recommended fast path: the BatchNorm-folded model (``fold_batchnorm``) called
    through a compiled function (``tf.function(jit_compile=True)`` on TensorFlow,
    ``jax.jit`` of ``stateless_call`` on JAX, eager ``torch.no_grad`` on torch);
  * timm's eager PyTorch model (``torch.no_grad``) -- the reference the ratios divide by;
  * TFLite float32 and int8 in LiteRT (XNNPACK) at 1 and 2 threads, batch 1 (lite only).
Training: images/s of ``train_on_batch`` steps (batch 32, 128x128) per backend vs a plain timm
loop (SGD, cross-entropy). Times are medians of ``--runs`` runs after warm-up; weights are
seeded (speed does not depend on them). Prints a table and writes JSON with the machine.

    python benchmarks/speed.py [--runs 20] [--models rexnet_100 ...] [--quick]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _median_ms(fn, runs, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _seeded_model(name, **kwargs):
    import keras_rexnet
    from keras_rexnet import spec as specs
    from keras_rexnet.converters.seeded import seeded_state
    from keras_rexnet.converters.convert import load_state_into
    from keras_rexnet.model import build_from_spec

    spec = specs.spec_by_name(name)
    layout = "official_lite" if spec.family == "rexnet_lite" else "timm"
    model = build_from_spec(spec, model_name=name, kernel_initializer="zeros", **kwargs)
    if kwargs.get("include_top", True):
        load_state_into(model, spec, seeded_state(spec, layout, seed=1), model_name=name)
    return keras_rexnet, model


def _fast_call(model):
    """The recommended inference path on this backend: a compiled call of the folded model."""
    import keras

    import keras_rexnet

    folded = keras_rexnet.fold_batchnorm(model)
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        fn = tf.function(lambda x: folded(x, training=False), jit_compile=True)
        return lambda x: fn(x).numpy()
    if backend == "jax":
        import jax

        tv = [v.value for v in folded.trainable_variables]
        ntv = [v.value for v in folded.non_trainable_variables]

        @jax.jit
        def run(x):
            out, _ = folded.stateless_call(tv, ntv, x, training=False)
            return out

        return lambda x: run(x).block_until_ready()
    import torch

    def call(x):
        with torch.no_grad():
            return folded(x, training=False)

    return call


def worker(args):
    """Measure Keras on this process's backend; print JSON."""
    import keras
    import numpy as np

    rows = []
    for name in args.models:
        _, model = _seeded_model(name, input_shape=(224, 224, 3))
        fast = _fast_call(model)
        for batch in args.batches:
            x = np.random.default_rng(0).uniform(0, 255, (batch, 224, 224, 3)).astype("float32")
            xt = x
            if keras.config.backend() == "torch":
                import torch

                xt = torch.from_numpy(x)
            runs = args.runs if batch == 1 else max(5, args.runs // 2 if args.quick else args.runs)
            rows.append({"model": name, "batch": batch, "path": "predict_on_batch",
                         "ms": _median_ms(lambda: model.predict_on_batch(x), runs)})
            rows.append({"model": name, "batch": batch, "path": "folded+compiled",
                         "ms": _median_ms(lambda: fast(xt), runs)})
    # training throughput
    for name in args.models:
        _, model = _seeded_model(name, input_shape=(128, 128, 3), classes=1000)
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(0).uniform(0, 255, (32, 128, 128, 3)).astype("float32")
        y = np.random.default_rng(1).integers(0, 1000, 32)
        ms = _median_ms(lambda: model.train_on_batch(x, y), max(5, args.train_runs), warmup=2)
        rows.append({"model": name, "batch": 32, "path": "train_on_batch 128px",
                     "ms": ms, "images_per_s": 32 * 1e3 / ms})
    print("RESULT " + json.dumps(rows), flush=True)


def timm_rows(args):
    import numpy as np
    import timm
    import torch

    from keras_rexnet import spec as specs
    from keras_rexnet.converters.reference import ReferenceReXNet

    torch.set_num_threads(os.cpu_count())
    rows = []
    for name in args.models:
        spec = specs.spec_by_name(name)
        if spec.family == "rexnet_lite":  # timm has no lite model: our reference, same ops
            model, source = ReferenceReXNet(spec).eval(), "torch reference (eager)"
        else:
            model, source = timm.create_model(name).eval(), "timm (eager)"
        for batch in args.batches:
            x = torch.from_numpy(np.random.default_rng(0).standard_normal(
                (batch, 3, 224, 224)).astype("float32"))
            runs = args.runs if batch == 1 else max(5, args.runs // 2 if args.quick else args.runs)
            with torch.no_grad():
                ms = _median_ms(lambda: model(x), runs)
            rows.append({"model": name, "batch": batch, "backend": "pytorch", "path": source,
                         "ms": ms})
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x = torch.from_numpy(np.random.default_rng(0).standard_normal(
            (32, 3, 128, 128)).astype("float32"))
        y = torch.from_numpy(np.random.default_rng(1).integers(0, 1000, 32))

        def step():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()

        ms = _median_ms(step, max(5, args.train_runs), warmup=2)
        rows.append({"model": name, "batch": 32, "backend": "pytorch",
                     "path": "train loop 128px", "ms": ms, "images_per_s": 32 * 1e3 / ms})
    return rows


def tflite_rows(args, tmp):
    from keras_rexnet import tflite

    rows = []
    for name in [m for m in args.models if "lite" in m]:
        _, model = _seeded_model(name, input_shape=(224, 224, 3))
        photos = tflite.sample_photos(64, 224)
        for quant in (None, "int8"):
            path = tflite.export_tflite(model, pathlib.Path(tmp) / f"{name}_{quant}.tflite",
                                        quantization=quant, representative_data=photos)
            for threads, ms in tflite.latency(path, threads=(1, 2), runs=args.runs).items():
                rows.append({"model": name, "batch": 1, "backend": "litert",
                             "path": f"tflite {quant or 'float32'} {threads} thread(s)",
                             "ms": ms})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+",
                        default=["rexnet_100", "rexnet_150", "rexnet_200", "rexnet_lite_100"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--train-runs", type=int, default=10)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--quick", action="store_true", help="fewer batch-32 runs")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(HERE / "results" / "speed.json"))
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    import tempfile

    from machine import machine_info

    rows = []
    for backend in args.backends:
        cmd = [sys.executable, __file__, "--worker", "--models", *args.models, "--batches",
               *map(str, args.batches), "--runs", str(args.runs), "--train-runs",
               str(args.train_runs)] + (["--quick"] if args.quick else [])
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env=dict(os.environ, KERAS_BACKEND=backend,
                                       TF_CPP_MIN_LOG_LEVEL="2"))
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"{backend} worker failed:\n{proc.stderr[-3000:]}")
        for row in json.loads(line[len("RESULT "):]):
            rows.append(dict(row, backend=backend))
        print(f"measured keras on {backend}", flush=True)
    rows += timm_rows(args)
    with tempfile.TemporaryDirectory() as tmp:
        rows += tflite_rows(args, tmp)

    ref = {(r["model"], r["batch"], "train" in r["path"]): r["ms"] for r in rows
           if r["backend"] == "pytorch"}
    for r in rows:
        base = ref.get((r["model"], r["batch"], "train" in r["path"]))
        r["ratio_to_torch"] = round(r["ms"] / base, 3) if base else None
    info = machine_info()
    print(f"\nmachine: {info['cpu']}, {info['cores']} cores; {info['versions']}")
    print(f"{'model':<16} {'batch':>5} {'backend':<11} {'path':<32} {'ms':>9} {'vs torch':>9}")
    for r in rows:
        ratio = f"{r['ratio_to_torch']:.2f}x" if r["ratio_to_torch"] else ""
        print(f"{r['model']:<16} {r['batch']:>5} {r['backend']:<11} {r['path']:<32} "
              f"{r['ms']:9.1f} {ratio:>9}")
    pathlib.Path(args.out).write_text(json.dumps({"machine": info, "rows": rows,
                                                   "runs": args.runs}, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
