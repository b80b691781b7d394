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
loop (SGD, cross-entropy), the two alternated step by step in each backend's process (the ratio
divides by that process's timm time); ``--only training`` measures these rows alone and merges
them into the existing JSON. Times are medians of ``--runs`` runs after warm-up; weights are
seeded (speed does not depend on them). Prints a table and writes JSON with the machine.

    python benchmarks/speed.py [--runs 20] [--models rexnet_100 ...] [--backends jax ...]

``--data-formats`` measures only channels_first against channels_last (the same seeded model
built in each ``keras.config`` image data format), per backend: ``predict_on_batch`` and
``inference_function`` at 224x224 for each batch size, and the ``train_on_batch`` step (batch 32,
128x128); it writes ``results/data_format.json`` (or ``--out``) and leaves ``speed.json`` alone.

    python benchmarks/speed.py --data-formats [--models rexnet_100] [--runs 10]
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

    from keras_rexnet.bench import seeded_model, time_inference

    rows = []
    for name in args.models if args.only != "training" else []:
        model = seeded_model(name, input_shape=(224, 224, 3))
        for batch in args.batches:
            rows += [dict(r, model=name) for r in time_inference(model, batch, 224, args.runs)]
    # training throughput: train_on_batch is the step model.fit runs, alternated step by step
    # with the plain PyTorch loop in this process (a shared machine's load hits both alike)
    for name in args.models:
        model = seeded_model(name, input_shape=(128, 128, 3))
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(0).uniform(0, 255, (32, 128, 128, 3)).astype("float32")
        y = np.random.default_rng(1).integers(0, 1000, 32)
        ms, timm_ms = alternated_ms([lambda: model.train_on_batch(x, y), timm_train_step(name)],
                                    args.train_runs, warmup=2)
        rows.append({"model": name, "batch": 32, "path": "train_on_batch 128px",
                     "ms": ms, "images_per_s": 32 * 1e3 / ms, "timm_ms": timm_ms})
    print("RESULT " + json.dumps(rows), flush=True)


def alternated_ms(fns, runs, warmup=2):
    """Median ms of each of ``fns``, called in turn ``warmup + runs`` times (warm-up dropped)."""
    import statistics
    import time

    times = [[] for _ in fns]
    for i in range(warmup + runs):
        for fn, t in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            if i >= warmup:
                t.append(time.perf_counter() - t0)
    return [1e3 * statistics.median(t) for t in times]


def timm_train_step(name):
    """One step of the plain PyTorch training loop (SGD, cross-entropy, batch 32, 128x128) on
    timm's model (the lite family: benchmarks/torch_rexnet.py), as a function."""
    from torch_rexnet import baseline_model, train_loop_step  # benchmarks/torch_rexnet.py

    return train_loop_step(baseline_model(name)[0])


def run_worker(backend, worker_args):
    """Run this script with ``--worker`` and ``worker_args`` on ``backend``; its rows."""
    cmd = [sys.executable, __file__, "--worker", *worker_args]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env=dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2"))
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{backend} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def training_main(args):
    """``--only training``: the training rows alone, merged into the existing JSON (its other
    rows kept; the training rows of the measured models replaced)."""
    from keras_rexnet.bench import machine_info
    from keras_rexnet.files import atomic_write

    info = machine_info()
    load_before = os.getloadavg()  # the machine's load (a shared machine's shows here)
    out = pathlib.Path(args.out)
    result = json.loads(out.read_text()) if out.is_file() else {
        "machine": info, "runs": args.runs, "models": args.models, "rows": []}
    new = []
    for name in args.models:
        for backend in args.backends:
            for row in run_worker(backend, ["--only", "training", "--models", name,
                                            "--train-runs", str(args.train_runs)]):
                new.append(dict(row, backend=backend,
                                ratio_to_torch=round(row["ms"] / row["timm_ms"], 3)))
                print(f"{name:<16} {backend:<11} keras {row['ms']:8.1f} ms, PyTorch loop "
                      f"{row['timm_ms']:8.1f} ms: {new[-1]['ratio_to_torch']:.2f}x", flush=True)
    measured = {(r["model"], r["backend"]) for r in new}
    kept = [r for r in result["rows"] if not ("train" in r["path"] and (
        (r["model"], r["backend"]) in measured
        or (r["backend"] == "pytorch" and r["model"] in args.models)))]
    rows = kept + new
    for name in args.models:  # the baseline column: the mean of the processes' PyTorch loops
        by_backend = {r["backend"]: r["timm_ms"] for r in rows
                      if r["model"] == name and "timm_ms" in r}
        ms = sum(by_backend.values()) / len(by_backend)
        rows.append({"model": name, "batch": 32, "backend": "pytorch", "path": "train loop 128px",
                     "ms": ms, "images_per_s": 32 * 1e3 / ms, "baseline": True,
                     "ratio_to_torch": 1.0, "ms_by_backend": by_backend})
    result["rows"] = rows
    result["training_run"] = {"machine": info, "train_runs": args.train_runs,
                              "date": __import__("datetime").date.today().isoformat(),
                              "models": args.models, "backends": args.backends,
                              "loadavg_1min": [round(load_before[0], 2),
                                               round(os.getloadavg()[0], 2)]}
    atomic_write(out, (json.dumps(result, indent=2) + "\n").encode())
    print(f"\nwrote {out}")


DATA_FORMATS = ("channels_last", "channels_first")


def data_format_worker(args):
    """channels_last vs channels_first on this process's backend; print JSON."""
    import keras
    import numpy as np

    from keras_rexnet.bench import median_ms, seeded_model
    from keras_rexnet.deploy import inference_function

    def image_shape(fmt, size, channels=3):
        return (channels, size, size) if fmt == "channels_first" else (size, size, channels)

    rows = []
    for name in args.models:
        for fmt in DATA_FORMATS:
            model = seeded_model(name, input_shape=image_shape(fmt, 224), data_format=fmt)
            paths = {"predict_on_batch": model.predict_on_batch,
                     "inference_function (recommended)": inference_function(model)}
            for batch in args.batches:
                x = np.random.default_rng(0).uniform(
                    0, 255, (batch, *image_shape(fmt, 224))).astype("float32")
                for path, fn in paths.items():
                    ms = median_ms(lambda: fn(x), args.runs)
                    rows.append({"model": name, "batch": batch, "data_format": fmt, "path": path,
                                 "ms": ms, "images_per_s": batch * 1e3 / ms})
        for fmt in DATA_FORMATS:  # the training step (what model.fit runs)
            model = seeded_model(name, input_shape=image_shape(fmt, 128), data_format=fmt)
            model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                          loss="sparse_categorical_crossentropy")
            x = np.random.default_rng(0).uniform(
                0, 255, (32, *image_shape(fmt, 128))).astype("float32")
            y = np.random.default_rng(1).integers(0, 1000, 32)
            ms = median_ms(lambda: model.train_on_batch(x, y), args.train_runs, warmup=2)
            rows.append({"model": name, "batch": 32, "data_format": fmt,
                         "path": "train_on_batch 128px", "ms": ms, "images_per_s": 32 * 1e3 / ms})
    print("RESULT " + json.dumps(rows), flush=True)


def _ms(v):
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def data_format_table(rows):
    """Markdown rows (docs/performance.md's table) of a ``--data-formats`` run."""
    titles = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "torch"}
    ms = {(r["backend"], r["path"], r["batch"], r["data_format"]): r["ms"] for r in rows}
    lines = ["| backend | path | batch | channels_last | channels_first | first / last |",
             "|---|---|---|---|---|---|"]
    for key in dict.fromkeys(k[:3] for k in ms):
        last, first = ms.get(key + ("channels_last",)), ms.get(key + ("channels_first",))
        if last and first:
            path = key[1].replace(" (recommended)", "")
            lines.append(f"| {titles.get(key[0], key[0])} | {path} | {key[2]} | {_ms(last)} | "
                         f"{_ms(first)} | {first / last:.2f} |")
    return "\n".join(lines) + "\n"


def data_format_main(args):
    """Run :func:`data_format_worker` per backend; print the table and write the JSON."""
    from keras_rexnet.bench import machine_info
    from keras_rexnet.files import atomic_write

    info = machine_info()
    rows = []
    for backend in args.backends:
        rows += [dict(row, backend=backend) for row in run_worker(
            backend, ["--data-formats", "--models", *args.models, "--batches",
                      *map(str, args.batches), "--runs", str(args.runs),
                      "--train-runs", str(args.train_runs)])]
        print(f"measured {backend}", flush=True)
    ms = {(r["backend"], r["model"], r["batch"], r["path"], r["data_format"]): r["ms"]
          for r in rows}
    print(f"\nmachine: {info['cpu']}, {info['cores']} cores; {info['versions']}")
    print(f"{'backend':<11} {'model':<16} {'batch':>5} {'path':<34} {'last ms':>9} "
          f"{'first ms':>9} {'first/last':>10}")
    for key in dict.fromkeys(k[:4] for k in ms):
        last, first = ms.get(key + ("channels_last",)), ms.get(key + ("channels_first",))
        ratio = f"{first / last:.2f}" if last and first else ""
        print(f"{key[0]:<11} {key[1]:<16} {key[2]:>5} {key[3]:<34} {last or 0:9.1f} "
              f"{first or 0:9.1f} {ratio:>10}")
    out = pathlib.Path(args.out or HERE / "results" / "data_format.json")
    atomic_write(out, (json.dumps({"machine": info, "runs": args.runs,
                                   "train_runs": args.train_runs, "models": args.models,
                                   "rows": rows}, indent=2) + "\n").encode())
    atomic_write(out.with_suffix(".md"), data_format_table(rows).encode())
    print(f"\nwrote {out} and {out.with_suffix('.md')}")


def timm_rows(args, models):
    import numpy as np
    import torch

    from keras_rexnet.bench import median_ms

    from torch_rexnet import baseline_model, train_loop_step  # benchmarks/torch_rexnet.py

    torch.set_num_threads(os.cpu_count())
    rows = []
    for name in models:
        model, source = baseline_model(name)
        model.eval()
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
        ms = median_ms(train_loop_step(model), max(5, args.train_runs), warmup=2)
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
    parser.add_argument("--only", choices=["training"], default=None,
                        help="only the training rows, merged into the existing --out JSON")
    parser.add_argument("--data-formats", action="store_true",
                        help="only channels_first vs channels_last (results/data_format.json)")
    parser.add_argument("--out", default=None,
                        help="the JSON (default: results/speed.json, or results/data_format.json "
                             "with --data-formats)")
    args = parser.parse_args()
    if args.worker:
        return data_format_worker(args) if args.data_formats else worker(args)
    if args.data_formats:
        return data_format_main(args)
    args.out = args.out or str(HERE / "results" / "speed.json")
    if args.only == "training":
        return training_main(args)

    import tempfile

    from keras_rexnet.bench import machine_info

    info = machine_info()
    rows = []
    for name in args.models:  # per model: timm, each Keras backend, timm again (drift check)
        before = timm_rows(args, [name])
        for backend in args.backends:
            rows += [dict(row, backend=backend) for row in run_worker(
                backend, ["--models", name, "--batches", *map(str, args.batches),
                          "--runs", str(args.runs), "--train-runs", str(args.train_runs)])]
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
        base = r.get("timm_ms") or ref.get((r["model"], r["batch"], "train" in r["path"]))
        r["ratio_to_torch"] = round(r["ms"] / base, 3) if base else None
    from keras_rexnet.files import atomic_write

    out = pathlib.Path(args.out)
    atomic_write(out, (json.dumps({"machine": info, "runs": args.runs, "models": args.models,
                                   "models_done": models_done,
                                   "complete": models_done == list(args.models), "rows": rows},
                                  indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
