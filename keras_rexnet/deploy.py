"""Inference-only transforms: BatchNorm folding."""

import keras
import numpy as np


def _foldable_pairs(model):
    """``{conv/dense layer name: batchnorm layer}`` where the BN directly follows the layer
    and is that layer's only consumer (each called once, in this model's graph)."""
    from keras_rexnet.graph import connections

    graph = connections(model)
    layers = {layer.name: layer for layer in model.layers}
    pairs = {}
    for layer in model.layers:
        node = graph.get(layer.name)
        if not isinstance(layer, keras.layers.BatchNormalization) or node is None \
                or node.calls != 1 or len(node.inputs) != 1:
            continue
        src = layers.get(node.inputs[0])
        if not isinstance(src, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D,
                                keras.layers.Dense)):
            continue
        ndim = len(layer.input.shape)
        # the BN must normalize the layer's output channels (axis 1 in channels first)
        channel = 1 if ndim > 2 and getattr(src, "data_format", None) == "channels_first" \
            else ndim - 1
        if graph[src.name].calls != 1 or graph[src.name].consumers != [layer.name] \
                or layer.axis % ndim != channel:
            continue
        if isinstance(src, keras.layers.DepthwiseConv2D) and src.depth_multiplier != 1:
            continue
        pairs[src.name] = layer
    return pairs


def fold_batchnorm(model):
    """An inference copy of ``model`` with every BatchNorm folded into the preceding
    convolution or dense layer (the SE's BN into its reduce conv included).

    Folded BatchNorms become linear ``Activation`` layers with the same names, so layer names
    (and :func:`keras_rexnet.feature_extractor`) still work. The copy is for inference:
    it has no BatchNorm to train. It saves to ``.keras`` and exports like the original.
    """
    pairs = _foldable_pairs(model)
    folded_bns = {bn.name for bn in pairs.values()}

    def clone(layer):
        config = layer.get_config()
        if layer.name in pairs:
            config["use_bias"] = True
            if layer.__class__ is keras.layers.Conv2D and config.get("data_format") == \
                    "channels_first":
                from keras_rexnet.layers import Conv2D  # a right bias in channels first

                return Conv2D.from_config(config)
            return layer.__class__.from_config(config)
        if layer.name in folded_bns:
            return keras.layers.Activation("linear", name=layer.name)
        return layer.__class__.from_config(config)

    def call(layer, *args, **kwargs):
        if layer.name in folded_bns:  # drop BatchNorm's own call arguments (mask, training)
            return layer(args[0])
        return layer(*args, **kwargs)

    new = keras.models.clone_model(model, clone_function=clone, call_function=call)
    new.name = f"{model.name}_folded" if not model.name.endswith("_folded") else model.name
    for layer in model.layers:
        if layer.name in folded_bns or not layer.weights:
            continue
        target = new.get_layer(layer.name)
        if layer.name not in pairs:
            target.set_weights(layer.get_weights())
            continue
        bn = pairs[layer.name]
        gamma = np.asarray(bn.gamma) if bn.scale else 1.0
        beta = np.asarray(bn.beta) if bn.center else 0.0
        mean, var = np.asarray(bn.moving_mean), np.asarray(bn.moving_variance)
        scale = (gamma / np.sqrt(var + bn.epsilon)).astype(np.float64)
        weights = layer.get_weights()
        kernel = weights[0].astype(np.float64)
        bias = weights[1].astype(np.float64) if len(weights) > 1 else np.zeros_like(mean,
                                                                                   np.float64)
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kernel = kernel * scale.reshape(1, 1, -1, 1)
        else:
            kernel = kernel * scale  # HWIO or (in, out), in either data format: outputs last
        bias = (bias - mean) * scale + beta
        target.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return new


def inference_function(model, fold=True):
    """The fastest way this project knows to run ``model`` for inference on this backend.

    Returns ``fn(images) -> numpy`` (the model's outputs, same structure), equal to
    ``model.predict_on_batch`` within float rounding. ``fold=True`` first folds the
    BatchNorms (:func:`fold_batchnorm`). Per backend (measured in ``benchmarks/speed.py``):

    * TensorFlow: a ``tf.function`` graph (grappler + oneDNN). Not XLA: XLA's CPU
      depthwise convolution made it several times slower.
    * JAX: ``jax.jit`` of the model's ``stateless_call`` (the depthwise convolutions run as
      fused shifted sums, see :class:`keras_rexnet.layers.DepthwiseConv2D`).
    * PyTorch: the model captured once per input shape with ``torch.export``, with the
      no-op nodes Keras' torch ops leave in the graph removed (dtype checks, same-dtype
      casts, ``contiguous`` copies: about 1,300 for ReXNet-1.0), run under ``torch.no_grad``.

    Each new input shape traces once (a second or so); later calls of that shape reuse it.
    """
    run_model = fold_batchnorm(model) if fold else model
    backend = keras.config.backend()
    to_numpy = keras.ops.convert_to_numpy
    dtype = run_model.inputs[0].dtype if len(run_model.inputs) == 1 else "float32"

    def outputs_to_numpy(out):
        return keras.tree.map_structure(to_numpy, out)

    if backend == "tensorflow":
        import tensorflow as tf

        graph = tf.function(lambda x: run_model(x, training=False), reduce_retracing=True)
        return lambda images: outputs_to_numpy(graph(tf.convert_to_tensor(images, dtype)))
    if backend == "jax":
        import jax

        @jax.jit
        def call(tv, ntv, x):
            return run_model.stateless_call(tv, ntv, x, training=False)[0]

        def run(images):  # the variables' current values (Keras may replace the arrays)
            return outputs_to_numpy(call([v.value for v in run_model.trainable_variables],
                                         [v.value for v in run_model.non_trainable_variables],
                                         jax.numpy.asarray(images, dtype)))

        return run
    if backend == "torch":
        import torch

        captured = {}

        def call(images):
            x = torch.as_tensor(np.asarray(images, dtype))
            key = tuple(x.shape)
            if key not in captured:
                captured[key] = _drop_noop_nodes(_torch_export(run_model, x))
            with torch.no_grad():
                return outputs_to_numpy(captured[key](x))

        return call
    return lambda images: outputs_to_numpy(run_model.predict_on_batch(images))


def _torch_export(model, x):
    """The Keras model's inference call (``training=False``) on torch tensor ``x``, captured
    with ``torch.export`` as a graph module (not yet cleaned; see ``_drop_noop_nodes``)."""
    import torch

    class _Forward(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, t):
            return self.inner(t, training=False)

    with torch.no_grad():
        return torch.export.export(_Forward(model), (x,)).module()


def _drop_noop_nodes(module):
    """Remove the nodes of an exported (functional) torch graph that do not change values:
    metadata asserts, casts to the same dtype, and ``contiguous`` copies (kept where a
    ``view`` needs them). The graph computes the same numbers with fewer copies."""
    import torch

    aten = torch.ops.aten
    graph = module.graph
    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        if node.target is aten._assert_tensor_metadata.default:
            graph.erase_node(node)
            continue
        source = node.args[0] if node.args else None
        if not isinstance(source, torch.fx.Node):
            continue
        if node.target is aten.contiguous.default:
            if any(user.target is aten.view.default for user in node.users):
                continue
        elif node.target in (aten.to.dtype, aten.to.dtype_layout):
            old, new = source.meta.get("val"), node.meta.get("val")
            if old is None or new is None or (old.dtype, old.device) != (new.dtype, new.device):
                continue
        else:
            continue
        node.replace_all_uses_with(source)
        graph.erase_node(node)
    graph.lint()
    module.recompile()
    return module
