"""Timing helpers shared by ``keras-rexnet bench`` and ``benchmarks/speed.py``.

Speed is measured in benchmarks, never asserted in tests: the numbers depend on the machine.
"""

import os
import platform
import statistics
import time

INFERENCE_PATHS = ("predict_on_batch", "predict_on_batch, folded",
                   "inference_function, unfolded", "inference_function (recommended)")


def median_ms(fn, runs, warmup=3):
    """Median wall time of ``fn()`` in milliseconds over ``runs`` calls after ``warmup``."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def seeded_model(name, seed=1, **kwargs):
    """Model ``name`` with seeded, checkpoint-like weights (fast to make on every backend;
    speed does not depend on the values). ``kwargs`` go to the builder."""
    from keras_rexnet import spec as specs
    from keras_rexnet.converters.convert import load_state_into
    from keras_rexnet.converters.seeded import seeded_state
    from keras_rexnet.model import build_from_spec

    spec = specs.spec_by_name(name)
    layout = "official_lite" if spec.family == "rexnet_lite" else "timm"
    model = build_from_spec(spec, model_name=name, kernel_initializer="zeros", **kwargs)
    if kwargs.get("include_top", True) and kwargs.get("classes", 1000) == 1000:
        load_state_into(model, spec, seeded_state(spec, layout, seed=seed), model_name=name)
    return model


def inference_paths(model):
    """``{path name: fn(images)}``: the ways of running ``model`` that the benchmarks compare."""
    from keras_rexnet.deploy import fold_batchnorm, inference_function

    folded = fold_batchnorm(model)
    return dict(zip(INFERENCE_PATHS, (model.predict_on_batch, folded.predict_on_batch,
                                      inference_function(model, fold=False),
                                      inference_function(model))))


def time_inference(model, batch, size, runs, paths=None):
    """``[{"path", "batch", "ms", "images_per_s"}]`` for each inference path of ``model``."""
    import numpy as np

    x = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype("float32")
    rows = []
    for path, fn in inference_paths(model).items():
        if paths and path not in paths:
            continue
        ms = median_ms(lambda: fn(x), runs)
        rows.append({"path": path, "batch": batch, "ms": ms, "images_per_s": batch * 1e3 / ms})
    return rows


def machine_info():
    """CPU model, core count, Python and library versions (for benchmark reports)."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    from importlib import metadata

    versions = {}  # from the installed distributions: nothing is imported
    for key, dists in (("keras", ["keras"]), ("tensorflow", ["tensorflow-cpu", "tensorflow"]),
                       ("jax", ["jax"]), ("torch", ["torch"]), ("timm", ["timm"]),
                       ("numpy", ["numpy"]), ("ai_edge_litert", ["ai-edge-litert"])):
        for dist in dists:
            try:
                versions[key] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "versions": versions}
