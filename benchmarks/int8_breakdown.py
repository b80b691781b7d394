"""Benchmark (a profile): where the int8 TFLite file of a ReXNet model spends its time, by layer
kind, next to the float32 file.

LiteRT's Python API has no per-op profiler, so each convolution of the model is timed on its own:
a one-layer model (the explicit zero padding before it, the convolution, its activation) with the
layer's input shape, converted to float32 and to full-integer int8 (int8 in and out, so no
QUANTIZE op is timed), run in LiteRT with XNNPACK. The classifier tail (pooling and the dense
layers) is timed the same way as one model. "rest" is the full file minus the sum of the parts:
the partial-channel shortcuts (slice, add, concatenate), the input and output quantization of
the shipped file, and per-op overhead. Everything runs in interleaved rounds, median of each.

    KERAS_BACKEND=tensorflow python benchmarks/int8_breakdown.py [rexnet_lite_100] [--runs 60]

Writes benchmarks/results/int8_breakdown_<name>.txt.
"""
import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np  # noqa: E402

THREADS = (1, 2)
KINDS = ("stem", "depthwise", "expand 1x1", "project 1x1", "head 1x1", "classifier tail")


def kind_of(name):
    for suffix, kind in (("_dw_conv", "depthwise"), ("_expand_conv", "expand 1x1"),
                         ("_project_conv", "project 1x1")):
        if name.endswith(suffix):
            return kind
    return {"stem_conv": "stem", "head_conv": "head 1x1"}.get(name)


def parts(model):
    """``[(name, kind, keras.Model)]``: each convolution with its padding and activation, then
    the classifier tail."""
    import keras

    layers = {layer.name: layer for layer in model.layers}
    out = []
    for layer in model.layers:
        kind = kind_of(layer.name)
        if kind is None:
            continue
        prefix = layer.name[: -len("_conv")]
        pad = layers.get(f"{prefix}_conv_pad") or layers.get(f"{prefix}_pad")
        source = pad if pad is not None and layer.input is pad.output else None
        shape = tuple((source or layer).input.shape[1:])
        x = inp = keras.Input(shape)
        if source is not None:
            x = keras.layers.deserialize(keras.layers.serialize(source))(x)
        conv = keras.layers.deserialize(keras.layers.serialize(layer))
        x = conv(x)
        conv.set_weights(layer.get_weights())
        act = layers.get(f"{prefix}_act")
        if act is not None:
            x = keras.layers.deserialize(keras.layers.serialize(act))(x)
        out.append((layer.name, kind, keras.Model(inp, x)))
    head = layers["head_act"] if "head_act" in layers else layers["head_conv"]
    tail = keras.Model(head.output, model.outputs[0])
    out.append(("tail", "classifier tail", tail))
    return out


def convert(model, path, int8, rng):
    import keras
    import tensorflow as tf

    from keras_rexnet.tflite.export import _converter_options

    shape = tuple(model.inputs[0].shape[1:])
    calib = rng.normal(0, 1, (8,) + shape).astype("float32")
    options = _converter_options("int8" if int8 else None, calib)
    if int8:
        options["inference_input_type"] = options["inference_output_type"] = tf.int8
    model.export(str(path), format="litert", verbose=False,
                 input_signature=[keras.InputSpec(shape=(1,) + shape, dtype="float32")],
                 **options)


def timed(paths, runs, rounds=3, warmup=5):
    from ai_edge_litert.interpreter import Interpreter

    interps = {}
    for key, path in paths.items():
        for t in THREADS:
            it = Interpreter(model_path=str(path), num_threads=t)
            it.allocate_tensors()
            inp = it.get_input_details()[0]
            it.set_tensor(inp["index"], np.ones(inp["shape"], inp["dtype"]))
            for _ in range(warmup):
                it.invoke()
            interps[key + (t,)] = it
    times = {k: [] for k in interps}
    per_round = -(-runs // rounds)
    for _ in range(rounds):
        for key, it in interps.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                it.invoke()
                times[key].append(time.perf_counter() - t0)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", default="rexnet_lite_100")
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    from keras_rexnet import tflite
    from keras_rexnet.bench import machine_info, seeded_model

    model = seeded_model(args.name, input_shape=(224, 224, 3))
    rng = np.random.default_rng(0)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="int8_breakdown_"))
    paths, kinds = {}, {}
    for name, kind, part in parts(model):
        kinds[name] = kind
        for q in ("float32", "int8"):
            paths[(name, q)] = tmp / f"{name}_{q}.tflite"
            convert(part, paths[(name, q)], q == "int8", rng)
    photos = tflite.sample_photos(64, 224)
    for q in ("float32", "int8"):
        paths[("full", q)] = tmp / f"full_{q}.tflite"
        tflite.export_tflite(model, paths[("full", q)], quantization=q if q == "int8" else None,
                             representative_data=photos if q == "int8" else None)
    ms = timed(paths, args.runs)

    info = machine_info()
    lines = [f"{args.name}: per-part LiteRT XNNPACK latency, ms (median of {args.runs}, "
             f"interleaved rounds)",
             f"machine: {info['cpu']}, {info['cores']} cores; "
             f"python {sys.version.split()[0]}", ""]
    for t in THREADS:
        lines.append(f"{t} thread(s)        float32     int8   int8/float32   parts")
        total = {"float32": 0.0, "int8": 0.0}
        for kind in KINDS:
            names = [n for n, k in kinds.items() if k == kind]
            f = sum(ms[(n, "float32", t)] for n in names)
            i = sum(ms[(n, "int8", t)] for n in names)
            total["float32"] += f
            total["int8"] += i
            lines.append(f"  {kind:16} {f:8.3f} {i:8.3f}   {i / f:6.2f}        {len(names)}")
        full_f, full_i = ms[("full", "float32", t)], ms[("full", "int8", t)]
        rf, ri = full_f - total["float32"], full_i - total["int8"]
        lines.append(f"  {'sum of parts':16} {total['float32']:8.3f} {total['int8']:8.3f}   "
                     f"{total['int8'] / total['float32']:6.2f}")
        lines.append(f"  {'rest':16} {rf:8.3f} {ri:8.3f}")
        lines.append(f"  {'full file':16} {full_f:8.3f} {full_i:8.3f}   {full_i / full_f:6.2f}")
        lines.append("")
    lines.append("per layer, 2 threads (float32, int8 ms):")
    for name, kind in kinds.items():
        lines.append(f"  {name:22} {kind:16} {ms[(name, 'float32', 2)]:7.3f} "
                     f"{ms[(name, 'int8', 2)]:7.3f}")
    text = "\n".join(lines) + "\n"
    print(text)
    out = pathlib.Path(args.out or pathlib.Path(__file__).parent / "results"
                       / f"int8_breakdown_{args.name}.txt")
    out.write_text(text)


if __name__ == "__main__":
    main()
