"""Benchmark: one 3x3 depthwise convolution on JAX (XLA CPU), stock Keras layer vs
``keras_rexnet.layers.DepthwiseConv2D`` (shifted sums), jitted, same weights.

    KERAS_BACKEND=jax python benchmarks/depthwise_jax.py [--runs 30]
"""

import argparse
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    import jax
    import keras
    import numpy as np

    from keras_rexnet.bench import machine_info, median_ms
    from keras_rexnet.layers import DepthwiseConv2D

    if keras.config.backend() != "jax":
        raise SystemExit("run with KERAS_BACKEND=jax")
    rows = []
    for batch, size, channels, stride in ((1, 112, 96, 1), (1, 56, 144, 2), (32, 112, 96, 1)):
        x = np.random.default_rng(0).normal(size=(batch, size, size, channels)).astype("float32")
        times = {}
        for cls in (keras.layers.DepthwiseConv2D, DepthwiseConv2D):
            layer = cls(3, strides=stride, padding="same", use_bias=False)
            layer.build(x.shape)
            layer.set_weights([np.random.default_rng(1).normal(size=(3, 3, channels, 1))
                               .astype("float32")])
            fn = jax.jit(lambda v, t, layer=layer: layer.stateless_call(v, [], t)[0])
            weights = [v.value for v in layer.trainable_variables]
            times[cls.__module__.split(".")[0]] = median_ms(
                lambda fn=fn, weights=weights: fn(weights, x).block_until_ready(), args.runs)
        rows.append({"input": [batch, size, size, channels], "stride": stride,
                     "keras_ms": times["keras"], "keras_rexnet_ms": times["keras_rexnet"],
                     "speedup": times["keras"] / times["keras_rexnet"]})
        print(f"{str(rows[-1]['input']):<20} stride {stride}: keras {times['keras']:8.2f} ms, "
              f"keras_rexnet {times['keras_rexnet']:7.2f} ms, {rows[-1]['speedup']:.1f}x")
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores; jax {info['versions'].get('jax')}")
    print(json.dumps({"machine": info, "rows": rows}))


if __name__ == "__main__":
    main()
