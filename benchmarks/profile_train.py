"""Profile: where the time of a Keras training step (``train_on_batch``, the step ``model.fit``
runs) goes on this process's backend, beside a plain PyTorch loop on timm's model.

Batch 32, 128x128, SGD (momentum 0.9), cross-entropy, seeded weights, as ``benchmarks/speed.py``.
Per model, in one process (the machine may be shared: the ratios come from steps alternated
round by round, medians):

* ratio: the timm loop and the Keras step, alternated; on JAX also the Keras model traced with
  the stock 1x1 convolution (``keras_rexnet.layers.Conv2D``'s matrix-product path off); on
  TensorFlow and torch also the step with Keras' own ops (``keras_rexnet.layers.stock_ops``:
  no fused BatchNorm, no torch convolutions on views, no compiled SiLU...), i.e. before/after;
  on torch also the model built channels first;
* JAX: forward+backward of every layer alone (``jax.jit(jax.grad(...))``, training mode), summed
  by kind, at the model's own shapes; and the 3x3 depthwise layer's two gradients apart;
* torch: ``torch.profiler`` operator tables (self CPU time) of timm's loop and of the Keras step
  (with and without the stock ops).

    KERAS_BACKEND=jax python benchmarks/profile_train.py [--models rexnet_100 ...] [--rounds 6]

Writes the report to ``benchmarks/results/profile_train_<backend>.txt``.
"""

import argparse
import collections
import os
import pathlib
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
BATCH, SIZE = 32, 128


def _timm_step(name):
    """One step of a plain PyTorch training loop on timm's model (our eager reference for the
    lite family, which timm does not have), as a function."""
    sys.path.insert(0, str(HERE))
    from torch_rexnet import baseline_model, train_loop_step

    return train_loop_step(baseline_model(name)[0], BATCH, SIZE)


def _keras_step(name, data_format="channels_last", trace=None, every=None):
    """(step function, model): ``train_on_batch`` of the seeded model, compiled as speed.py
    does. ``trace``: a context manager active while the step is traced (its first call);
    ``every``: one active during every call (torch runs eagerly: it decides at each call)."""
    import contextlib

    import keras
    import numpy as np

    from keras_rexnet.bench import seeded_model

    first = data_format == "channels_first"
    old = keras.config.image_data_format()
    keras.config.set_image_data_format(data_format)
    try:
        model = seeded_model(name, input_shape=(3, SIZE, SIZE) if first else (SIZE, SIZE, 3))
    finally:
        keras.config.set_image_data_format(old)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (BATCH, SIZE, SIZE, 3)).astype("float32")
    if first:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    y = np.random.default_rng(1).integers(0, 1000, BATCH)
    with trace() if trace else contextlib.nullcontext(), \
            every() if every else contextlib.nullcontext():
        model.train_on_batch(x, y)  # builds and traces the step

    def step():
        with every() if every else contextlib.nullcontext():
            model.train_on_batch(x, y)

    return step, model


def _alternate(steps, rounds):
    """``{name: median ms}``: each step once per round, in turn, after two warm-up rounds."""
    times = collections.defaultdict(list)
    for r in range(rounds + 2):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            fn()
            if r >= 2:
                times[name].append(time.perf_counter() - t0)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def _stock_conv():
    """Context: keras_rexnet.layers.Conv2D without its JAX matrix-product path (the stock op)."""
    import contextlib

    from keras_rexnet.layers import Conv2D

    @contextlib.contextmanager
    def off():
        saved = Conv2D._matmul_applies
        Conv2D._matmul_applies = lambda self, inputs: False
        try:
            yield
        finally:
            Conv2D._matmul_applies = saved

    return off


def ratio_section(name, rounds, backend):
    steps = {"timm loop": _timm_step(name)}
    steps["keras train_on_batch"] = _keras_step(name)[0]
    if backend == "jax":
        steps["keras, stock 1x1 conv"] = _keras_step(name, trace=_stock_conv())[0]
    else:
        from keras_rexnet.layers import stock_ops

        steps["keras, stock ops"] = _keras_step(name, every=stock_ops)[0]
    if backend == "torch":
        steps["keras, channels_first"] = _keras_step(name, "channels_first")[0]
    ms = _alternate(steps, rounds)
    base = ms["timm loop"]
    lines = [f"{name}: median of {rounds} alternated rounds, ms per step (ratio to the timm loop)"]
    lines += [f"  {k:<28} {v:9.1f}  {v / base:5.2f}x" for k, v in ms.items()]
    return lines


def _layer_kind(layer, shapes):
    import keras

    kind = type(layer).__name__
    if isinstance(layer, keras.layers.Conv2D) and not isinstance(layer,
                                                                 keras.layers.DepthwiseConv2D):
        kind = f"Conv2D {layer.kernel_size[0]}x{layer.kernel_size[1]}"
    if isinstance(layer, keras.layers.Activation):
        kind += f" {layer.activation.__name__}"
    if shapes[0][1] == 1 and kind.startswith(("Conv2D", "BatchNormalization", "Activation")):
        kind = "SE " + kind  # on the pooled (1x1) map
    return kind


def jax_layers_section(name, rounds):
    """Forward+backward of each layer alone, summed by kind (stock and matmul 1x1 convs)."""
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np

    from keras_rexnet.bench import seeded_model

    model = seeded_model(name, input_shape=(SIZE, SIZE, 3))
    rng = np.random.default_rng(0)
    total, count = collections.defaultdict(float), collections.Counter()
    stock = _stock_conv()
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        ins = layer.input if isinstance(layer.input, list) else [layer.input]
        shapes = [(BATCH,) + tuple(t.shape[1:]) for t in ins]
        xs = [jnp.asarray(rng.standard_normal(s).astype("float32")) for s in shapes]
        trainable = [v.value for v in layer.trainable_variables]
        fixed = [v.value for v in layer.non_trainable_variables]
        kwargs = {"training": True} if layer._call_has_training_arg else {}

        def loss(trainable, xs, layer=layer, fixed=fixed, kwargs=kwargs):
            out, _ = layer.stateless_call(trainable, fixed, xs if len(xs) > 1 else xs[0],
                                          **kwargs)
            return jnp.sum(out * out)

        variants = {"": None}
        if isinstance(layer, keras.layers.Conv2D) and hasattr(layer, "_matmul_applies") \
                and layer._matmul_applies(ins[0]):
            variants = {"": None, " (stock conv)": stock}
        for suffix, ctx in variants.items():
            if ctx:
                with ctx():
                    grad = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(trainable, xs).compile()
            else:
                grad = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(trainable, xs).compile()
            ms = _alternate({"g": lambda g=grad, t=trainable, a=xs: jax.block_until_ready(g(t, a))},
                            max(3, rounds // 2))["g"]
            kind = _layer_kind(layer, shapes) + suffix
            total[kind] += ms
            count[kind] += 1
    stock_kinds = {k for k in total if k.endswith("(stock conv)")}
    done = sum(v for k, v in total.items() if k not in stock_kinds)
    lines = [f"{name}: forward+backward of each layer alone (jax.jit(jax.grad)), summed by kind; "
             f"total {done:.1f} ms (the fused step is faster: XLA fuses across layers)",
             f"  {'kind':<36} {'layers':>6} {'ms':>9} {'share':>6}"]
    for k, v in sorted(total.items(), key=lambda kv: -kv[1]):
        share = "" if k in stock_kinds else f"{100 * v / done:5.1f}%"
        lines.append(f"  {k:<36} {count[k]:6d} {v:9.1f} {share:>6}")
    return lines


def jax_depthwise_section(rounds):
    """The shifted-sum 3x3 depthwise layer: forward, gradient wrt input, wrt kernel, and the
    stock grouped convolution, at rexnet_100's 128px shapes."""
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np

    from keras_rexnet.layers import DepthwiseConv2D

    lines = ["3x3 depthwise layer alone, batch 32, ms (median): forward, d/dinput, d/dkernel "
             "of keras_rexnet's shifted sums; forward+backward of the stock grouped conv"]
    for size, channels, stride in ((64, 96, 1), (32, 162, 1), (16, 300, 1), (8, 840, 1)):
        x = jnp.asarray(np.random.default_rng(0).standard_normal(
            (BATCH, size, size, channels)).astype("float32"))
        row = {}
        for cls in (DepthwiseConv2D, keras.layers.DepthwiseConv2D):
            layer = cls(3, strides=stride, padding="same", use_bias=False)
            layer.build(x.shape)
            w = [v.value for v in layer.trainable_variables]

            def loss(w, x, layer=layer):
                return jnp.sum(jnp.square(layer.stateless_call(w, [], x)[0]))

            fns = ({"forward": jax.jit(lambda w, x, layer=layer: layer.stateless_call(w, [], x)[0]),
                    "d/dinput": jax.jit(jax.grad(loss, argnums=1)),
                    "d/dkernel": jax.jit(jax.grad(loss, argnums=0))} if cls is DepthwiseConv2D
                   else {"stock fwd+bwd": jax.jit(jax.grad(loss, argnums=(0, 1)))})
            for k, fn in fns.items():
                row[k] = _alternate({k: lambda fn=fn, w=w, x=x: jax.block_until_ready(fn(w, x))},
                                    max(3, rounds // 2))[k]
        lines.append(f"  {BATCH}x{size}x{size}x{channels} stride {stride}: " + ", ".join(
            f"{k} {v:.1f}" for k, v in row.items()))
    return lines


def torch_profile_section(name, steps=2):
    from torch.profiler import ProfilerActivity, profile

    from keras_rexnet.layers import stock_ops

    lines = []
    for label, fn in (("timm loop", _timm_step(name)),
                      ("keras train_on_batch", _keras_step(name)[0]),
                      ("keras train_on_batch, stock ops", _keras_step(name, every=stock_ops)[0])):
        fn()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                fn()
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=16)
        lines += [f"{name}, {label}, {steps} steps, torch.profiler by self CPU time:", table]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+",
                        default=["rexnet_100", "rexnet_150", "rexnet_lite_100"])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--layers-model", default="rexnet_100",
                        help="the model whose layers (JAX) or operators (torch) are profiled")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import keras

    from keras_rexnet.bench import machine_info
    from keras_rexnet.files import atomic_write

    backend = keras.config.backend()
    info = machine_info()
    out = [f"benchmarks/profile_train.py on KERAS_BACKEND={backend}: {info['cpu']}, "
           f"{info['cores']} cores; {info['versions']}; batch {BATCH}, {SIZE}x{SIZE}, SGD", ""]

    def emit(lines):
        lines = lines + [f"  (1-minute load average of the machine: {os.getloadavg()[0]:.1f})"]
        print("\n".join(lines), flush=True)
        out.extend(lines + [""])

    for name in args.models:
        emit(ratio_section(name, args.rounds, backend))
    if backend == "jax":
        emit(jax_layers_section(args.layers_model, args.rounds))
        emit(jax_depthwise_section(args.rounds))
    elif backend == "torch":
        emit(torch_profile_section(args.layers_model))
    path = pathlib.Path(args.out or HERE / "results" / f"profile_train_{backend}.txt")
    atomic_write(path, "\n".join(out).encode())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
