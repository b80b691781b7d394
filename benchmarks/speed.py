"""Benchmark: CPU inference and training speed of the Keras models beside timm, in one run.

For each model (ReXNetV1 1.0/1.5/2.0, lite 1.0 by default) and batch size (1 and 32, 224x224):
  * Keras on each backend (one subprocess per backend): ``predict_on_batch`` of the model and
    of its BatchNorm-folded copy (``fold_batchnorm``), and ``keras_rexnet.inference_function``
    (the recommended path: a ``tf.function`` graph, ``jax.jit``, ``torch.export``) unfolded and
    folded;
  * timm's eager PyTorch model (``torch.no_grad``) -- the reference the ratios divide by --
    and, for reference, the same model in channels_last memory; measured just before and just
    after that model's Keras workers (the baseline is their mean; both are kept in the JSON,
    so drift of a noisy machine shows);
  * TFLite float32 and int8 in LiteRT (XNNPACK) at 1 and 2 threads, batch 1 (lite only):
    5 x ``--runs`` runs each, in 5 rounds alternating between the files and thread counts.
Training: images/s of ``train_on_batch`` steps (batch 32, 128x128) per backend vs a plain timm
loop (SGD, cross-entropy). Times are medians of ``--runs`` runs after warm-up; weights are
seeded (speed does not depend on them). Prints a table and writes JSON with the machine.

    python benchmarks/speed.py [--runs 20] [--models rexnet_100 ...] [--backends jax ...]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def worker(args):
    """Measure Keras on this process's backend; print JSON."""
    import keras
    import numpy as np

    from keras_rexnet.bench import median_ms, seeded_model, time_inference

    rows = []
    for name in args.models:
        model = seeded_model(name, input_shape=(224, 224, 3))
        for batch in args.batches:
            rows += [dict(r, model=name) for r in time_inference(model, batch, 224, args.runs)]
    # training throughput: train_on_batch is the step model.fit runs
    for name in args.models:
        model = seeded_model(name, input_shape=(128, 128, 3))
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(0).uniform(0, 255, (32, 128, 128, 3)).astype("float32")
        y = np.random.default_rng(1).integers(0, 1000, 32)
        ms = median_ms(lambda: model.train_on_batch(x, y), args.train_runs, warmup=2)
        rows.append({"model": name, "batch": 32, "path": "train_on_batch 128px",
                     "ms": ms, "images_per_s": 32 * 1e3 / ms})
    print("RESULT " + json.dumps(rows), flush=True)


def timm_rows(args, models):
    import numpy as np
    import timm
    import torch

    from keras_rexnet.bench import median_ms

    from keras_rexnet import spec as specs
    from torch_rexnet import ReferenceReXNet  # benchmarks/torch_rexnet.py

    torch.set_num_threads(os.cpu_count())
    rows = []
    for name in models:
        spec = specs.spec_by_name(name)
        if spec.family == "rexnet_lite":  # timm has no lite model: our reference, same ops
            model, source = ReferenceReXNet(spec).eval(), "torch reference (eager)"
        else:
            model, source = timm.create_model(name).eval(), "timm (eager)"
        for batch in args.batches:
            x = torch.from_numpy(np.random.default_rng(0).standard_normal(
                (batch, 3, 224, 224)).astype("float32"))
            with torch.no_grad():
                ms = median_ms(lambda: model(x), args.runs)
                rows.append({"model": name, "batch": batch, "backend": "pytorch",
                             "path": source, "ms": ms, "baseline": True})
                # For reference: the same model in channels_last memory (not timm's default).
                model.to(memory_format=torch.channels_last)
                xc = x.contiguous(memory_format=torch.channels_last)
                ms = median_ms(lambda: model(xc), args.runs)
                model.to(memory_format=torch.contiguous_format)
            rows.append({"model": name, "batch": batch, "backend": "pytorch",
                         "path": source.replace("eager", "eager, channels_last"), "ms": ms})
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

        ms = median_ms(step, max(5, args.train_runs), warmup=2)
        rows.append({"model": name, "batch": 32, "backend": "pytorch",
                     "path": "train loop 128px", "ms": ms, "images_per_s": 32 * 1e3 / ms,
                     "baseline": True})
    return rows


def tflite_rows(args, tmp, models):
    from keras_rexnet import tflite
    from keras_rexnet.bench import seeded_model

    rows = []
    for name in [m for m in models if "lite" in m]:
        model = seeded_model(name, input_shape=(224, 224, 3))
        photos = tflite.sample_photos(64, 224)
        files = {(quant or "float32"): tflite.export_tflite(
            model, pathlib.Path(tmp) / f"{name}_{quant}.tflite", quantization=quant,
            representative_data=photos if quant else None) for quant in (None, "int8")}
        # Milliseconds-long runs: many of them, in rounds alternating between the files and
        # thread counts, so a burst of load cannot land on one file only.
        runs, rounds = 5 * args.runs, 5
        lat = tflite.latency(files, threads=(1, 2), runs=runs, rounds=rounds)
        for (kind, threads), ms in lat.items():
            rows.append({"model": name, "batch": 1, "backend": "litert",
                         "path": f"tflite {kind} {threads} thread(s)", "ms": ms,
                         "runs": runs, "rounds": rounds})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+",
                        default=["rexnet_100", "rexnet_lite_100", "rexnet_150", "rexnet_200"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--train-runs", type=int, default=10)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(HERE / "results" / "speed.json"))
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    import tempfile

    from keras_rexnet.bench import machine_info

    info = machine_info()
    rows = []
    for name in args.models:  # per model: timm, each Keras backend, timm again (drift check)
        before = timm_rows(args, [name])
        for backend in args.backends:
            cmd = [sys.executable, __file__, "--worker", "--models", name, "--batches",
                   *map(str, args.batches), "--runs", str(args.runs), "--train-runs",
                   str(args.train_runs)]
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  env=dict(os.environ, KERAS_BACKEND=backend,
                                           TF_CPP_MIN_LOG_LEVEL="2"))
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")),
                        None)
            if line is None:
                raise SystemExit(f"{backend} worker failed:\n{proc.stderr[-3000:]}")
            rows += [dict(row, backend=backend) for row in json.loads(line[len("RESULT "):])]
            print(f"measured {name} on keras/{backend}", flush=True)
        after = timm_rows(args, [name])
        for b, a in zip(before, after):  # the baseline: mean of the two bracketing measurements
            row = dict(b, ms=(b["ms"] + a["ms"]) / 2, ms_before=b["ms"], ms_after=a["ms"])
            if "images_per_s" in row:
                row["images_per_s"] = row["batch"] * 1e3 / row["ms"]
            rows.append(row)
        with tempfile.TemporaryDirectory() as tmp:
            rows += tflite_rows(args, tmp, [name])
        # written after every model: a run cut short leaves the models it finished, marked
        _write(args, info, rows, models_done=list(dict.fromkeys(r["model"] for r in rows)))

    print(f"\nmachine: {info['cpu']}, {info['cores']} cores; {info['versions']}")
    print(f"{'model':<16} {'batch':>5} {'backend':<11} {'path':<40} {'ms':>9} {'vs timm':>9}")
    for r in rows:
        ratio = f"{r['ratio_to_torch']:.2f}x" if r["ratio_to_torch"] else ""
        print(f"{r['model']:<16} {r['batch']:>5} {r['backend']:<11} {r['path']:<40} "
              f"{r['ms']:9.1f} {ratio:>9}")
    print(f"\nwrote {args.out}")


def _write(args, info, rows, models_done):
    """Ratios to the baseline of the same model and batch; the JSON, written atomically."""
    ref = {(r["model"], r["batch"], "train" in r["path"]): r["ms"] for r in rows
           if r.get("baseline")}
    for r in rows:
        base = ref.get((r["model"], r["batch"], "train" in r["path"]))
        r["ratio_to_torch"] = round(r["ms"] / base, 3) if base else None
    from keras_rexnet.files import atomic_write

    out = pathlib.Path(args.out)
    atomic_write(out, (json.dumps({"machine": info, "runs": args.runs, "models": args.models,
                                   "models_done": models_done,
                                   "complete": models_done == list(args.models), "rows": rows},
                                  indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
