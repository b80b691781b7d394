"""Benchmark: what each of ``inference_function``'s choices buys on this process's backend,
measured side by side on one folded model (ReXNetV1 1.0 by default, 224x224).

* tensorflow: ``tf.function`` (the recommended path) vs ``tf.function(jit_compile=True)`` (XLA).
* jax: the model's depthwise convolutions as shifted sums (``keras_rexnet.layers``, the default)
  vs XLA's grouped convolution (the stock Keras op), both under ``jax.jit``.
* torch: the ``torch.export`` graph with the no-op nodes removed (recommended) vs the raw
  exported graph vs the eager Keras model, all under ``torch.no_grad``.

    KERAS_BACKEND=jax python benchmarks/ablations.py [rexnet_100] [--batch 1 32] [--runs 20]

Prints one JSON line (``RESULT {...}``) after the table.
"""

import argparse
import json
import os


def _tensorflow(model, x, runs):
    import tensorflow as tf

    from keras_rexnet.bench import median_ms

    out = {}
    for name, jit in (("tf.function (recommended)", False), ("tf.function, XLA", True)):
        fn = tf.function(lambda t: model(t, training=False), jit_compile=jit)
        t = tf.constant(x)
        out[name] = median_ms(lambda fn=fn, t=t: fn(t).numpy(), runs)
    return out


def _jax(model, x, runs):
    import jax

    from keras_rexnet.bench import median_ms
    from keras_rexnet.layers import DepthwiseConv2D

    weights = ([v.value for v in model.trainable_variables],
               [v.value for v in model.non_trainable_variables])
    out = {}
    original = DepthwiseConv2D._shifted_sum_applies
    try:
        for name, shifted in (("jax.jit, shifted-sum depthwise (recommended)", True),
                              ("jax.jit, XLA grouped convolution", False)):
            if not shifted:
                DepthwiseConv2D._shifted_sum_applies = lambda self, inputs: False
            fn = jax.jit(lambda tv, ntv, t: model.stateless_call(tv, ntv, t, training=False)[0])
            out[name] = median_ms(lambda fn=fn: fn(*weights, x).block_until_ready(), runs)
    finally:
        DepthwiseConv2D._shifted_sum_applies = original
    return out


def _torch(model, x, runs):
    import torch

    from keras_rexnet.bench import median_ms
    from keras_rexnet.deploy import _drop_noop_nodes, _torch_export

    t = torch.from_numpy(x)
    raw = _torch_export(model, t)
    clean = _drop_noop_nodes(_torch_export(model, t))
    with torch.no_grad():
        return {name: median_ms(lambda fn=fn: fn(t), runs) for name, fn in (
            ("torch.export, no-op nodes removed (recommended)", clean),
            ("torch.export, raw graph", raw),
            ("eager Keras", lambda t: model(t, training=False)))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="rexnet_100")
    parser.add_argument("--batch", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    import keras_rexnet
    from keras_rexnet.bench import machine_info, seeded_model

    backend = keras.config.backend()
    measure = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}.get(backend)
    if measure is None:
        raise SystemExit(f"no ablations for backend {backend!r}")
    model = keras_rexnet.fold_batchnorm(seeded_model(args.model, input_shape=(224, 224, 3)))
    rows = []
    for batch in args.batch:
        x = np.random.default_rng(0).uniform(0, 255, (batch, 224, 224, 3)).astype("float32")
        times = measure(model, x, args.runs)
        best = next(iter(times.values()))
        for path, ms in times.items():
            rows.append({"model": args.model, "backend": backend, "batch": batch, "path": path,
                         "ms": ms, "vs_recommended": ms / best})
    info = machine_info()
    print(f"{args.model} (folded), {backend}, 224x224, median of {args.runs} runs; "
          f"{info['cpu']}, {info['cores']} cores")
    for r in rows:
        print(f"  batch {r['batch']:>3}  {r['path']:<50} {r['ms']:9.1f} ms  "
              f"{r['vs_recommended']:5.2f}x")
    print("RESULT " + json.dumps({"machine": info, "runs": args.runs, "rows": rows}))


if __name__ == "__main__":
    main()
