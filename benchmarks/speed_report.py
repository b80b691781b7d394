"""Markdown tables from a ``benchmarks/speed.py`` result (the README's "Performance" section).

    python benchmarks/speed_report.py [benchmarks/results/speed.json] > benchmarks/results/speed.md
"""

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
BACKENDS = (("tensorflow", "TF"), ("jax", "JAX"), ("torch", "torch"))
RECOMMENDED = "inference_function (recommended)"


def _index(rows):
    return {(r["model"], r["batch"], r["backend"], r["path"]): r for r in rows}


def _cell(row, with_ratio=True):
    if row is None:
        return "-"
    ratio = row.get("ratio_to_torch")
    return f"{row['ms']:.1f} ({ratio:.2f}x)" if with_ratio and ratio else f"{row['ms']:.1f}"


def report(result):
    rows, info = result["rows"], result["machine"]
    idx = _index(rows)
    models = list(dict.fromkeys(r["model"] for r in rows))
    batches = sorted({r["batch"] for r in rows if "train" not in r["path"]
                      and r["backend"] != "litert"})
    v = info["versions"]
    out = [f"Machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}, Keras "
           f"{v.get('keras')}, TensorFlow {v.get('tensorflow')}, JAX {v.get('jax')}, torch "
           f"{v.get('torch')}, timm {v.get('timm')}, LiteRT {v.get('ai_edge_litert')}. Median of "
           f"{result['runs']} runs after warm-up, 224x224, milliseconds per batch; (ratio) = "
           "time / timm eager time in the same run (below 1: faster than timm).", ""]
    if result.get("complete") is False:
        missing = [m for m in result["models"] if m not in result["models_done"]]
        out[-1:] = ["", f"This run was stopped before it measured {', '.join(missing)}.", ""]
    base_name = {m: next((r["path"] for r in rows if r["model"] == m and r.get("baseline")
                          and "train" not in r["path"]), "timm (eager)") for m in models}
    head = "| model | batch | timm eager | timm channels_last |"
    for _, short in BACKENDS:
        head += f" {short} predict_on_batch | {short} recommended |"
    out += [head, "|" + "---|" * (4 + 2 * len(BACKENDS))]
    for m in models:
        base = base_name[m]
        for b in batches:
            line = (f"| {m} | {b} | {_cell(idx.get((m, b, 'pytorch', base)), False)} | "
                    f"{_cell(idx.get((m, b, 'pytorch', base.replace('eager', 'eager, channels_last'))))} |")
            for backend, _ in BACKENDS:
                line += (f" {_cell(idx.get((m, b, backend, 'predict_on_batch')))} |"
                         f" {_cell(idx.get((m, b, backend, RECOMMENDED)))} |")
            out.append(line)
    drift = [r for r in rows if r.get("baseline") and "ms_before" in r]
    if drift:
        out += ["", "Baseline drift: " + "; ".join(
            f"{r['model']} {r['path'].replace(' 128px', '')} b{r['batch']} "
            f"{r['ms_before']:.1f} -> {r['ms_after']:.1f} ms" for r in drift)
            + " (the baseline measured before and after each model's Keras runs; the ratios divide by "
            "the mean)."]
    lite = [m for m in models if base_name[m] != "timm (eager)"]
    if lite:
        out += ["", f"timm has no lite model: for {', '.join(lite)} the baseline is this project's "
                "eager PyTorch model built from the spec (`benchmarks/torch_rexnet.py`), the same ops."]

    out += ["", "BatchNorm folding (`fold_batchnorm`), ms per batch, unfolded -> folded:", "",
            "| model | batch | " + " | ".join(f"{s} predict_on_batch | {s} inference_function"
                                             for _, s in BACKENDS) + " |",
            "|" + "---|" * (2 + 2 * len(BACKENDS))]
    for m in models:
        for b in batches:
            line = f"| {m} | {b} |"
            for backend, _ in BACKENDS:
                for a, f in (("predict_on_batch", "predict_on_batch, folded"),
                             ("inference_function, unfolded", RECOMMENDED)):
                    ra, rf = idx.get((m, b, backend, a)), idx.get((m, b, backend, f))
                    line += (f" {ra['ms']:.1f} -> {rf['ms']:.1f} ({ra['ms'] / rf['ms']:.2f}x) |"
                             if ra and rf else " - |")
            out.append(line)

    train = [r for r in rows if "train" in r["path"]]
    if train:
        out += ["", "Training throughput, images/s (batch 32, 128x128, SGD; Keras `train_on_batch`,"
                " the step `model.fit` runs, vs a plain PyTorch loop on the timm model):", ""]
        run = result.get("training_run")
        if run:  # measured apart from the tables above (speed.py --only training)
            m = run["machine"]
            out += [f"Measured in a separate run (`benchmarks/speed.py --only training`, "
                    f"{run['date']}): {m['cpu']}, {m['cores']} cores; median of "
                    f"{run['train_runs']} steps, each Keras step alternated with a step of the "
                    "PyTorch loop in the same process; (x time) divides by that process's "
                    "PyTorch loop time, the PyTorch column is their mean over the backends' "
                    "processes." + (" 1-minute load average of the machine: {} at the start, {} "
                                    "at the end.".format(*run["loadavg_1min"])
                                    if run.get("loadavg_1min") else ""), ""]
        out += ["| model | PyTorch loop | " + " | ".join(s for _, s in BACKENDS) + " |",
                "|" + "---|" * (2 + len(BACKENDS))]
        for m in models:
            by = {r["backend"]: r for r in train if r["model"] == m}
            if "pytorch" not in by:
                continue
            line = f"| {m} | {by['pytorch']['images_per_s']:.1f} |"
            for backend, _ in BACKENDS:
                r = by.get(backend)
                # the PyTorch loop alternated with this step in its process, else the baseline
                base = r.get("timm_ms", by["pytorch"]["ms"]) if r else None
                line += (f" {r['images_per_s']:.1f} ({r['ms'] / base:.2f}x time) |"
                         if r else " - |")
            out.append(line)

    lit = [r for r in rows if r["backend"] == "litert"]
    if lit:
        r = next((r for r in lit if "rounds" in r), None)
        how = (f" (median of {r['runs']} runs, in {r['rounds']} rounds alternating between the "
               "files and thread counts)" if r else "")
        out += ["", f"TFLite in LiteRT (XNNPACK), batch 1, ms{how}:", "",
                "| model | threads | float32 | int8 (uint8 I/O) | int8 / float32 |", "|---|---|---|---|---|"]
        for m in dict.fromkeys(r["model"] for r in lit):
            for t in (1, 2):
                f = idx.get((m, 1, "litert", f"tflite float32 {t} thread(s)"))
                q = idx.get((m, 1, "litert", f"tflite int8 {t} thread(s)"))
                if f and q:
                    out.append(f"| {m} | {t} | {f['ms']:.2f} | {q['ms']:.2f} | "
                               f"{q['ms'] / f['ms']:.2f} |")
    return "\n".join(out) + "\n"


def main():
    path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results" / "speed.json"
    sys.stdout.write(report(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
