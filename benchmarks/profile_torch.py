"""Profile: where the time of one eager Keras forward pass goes on the torch backend
(torch.profiler operator table), and how many nodes ``inference_function`` drops from the
exported graph.

    KERAS_BACKEND=torch python benchmarks/profile_torch.py [rexnet_100] [--batch 1]
"""

import argparse
import collections
import os

os.environ.setdefault("KERAS_BACKEND", "torch")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="rexnet_100")
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    import keras
    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile

    import keras_rexnet
    from keras_rexnet.bench import seeded_model
    from keras_rexnet.deploy import _drop_noop_nodes, _torch_export

    if keras.config.backend() != "torch":
        raise SystemExit("run with KERAS_BACKEND=torch")
    model = keras_rexnet.fold_batchnorm(seeded_model(args.model, input_shape=(224, 224, 3)))
    x = torch.from_numpy(np.random.default_rng(0).uniform(
        0, 255, (args.batch, 224, 224, 3)).astype("float32"))
    with torch.no_grad():
        model(x, training=False)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(5):
                model(x, training=False)
    print(f"{model.name}, batch {args.batch}, eager Keras on torch, 5 forward passes:")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))

    graph_module = _torch_export(model, x)
    before = collections.Counter(str(n.target) for n in graph_module.graph.nodes
                                 if n.op == "call_function")
    _drop_noop_nodes(graph_module)
    after = collections.Counter(str(n.target) for n in graph_module.graph.nodes
                                if n.op == "call_function")
    print(f"exported graph: {sum(before.values())} op nodes, {sum(after.values())} after "
          "inference_function's clean-up; removed:")
    for name, n in (before - after).most_common():
        print(f"  {name:<40} {n}")


if __name__ == "__main__":
    main()
