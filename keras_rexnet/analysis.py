"""Feature rank analysis of the paper's Section 3 and Figure 5."""

import numpy as np


def _matrix(features):
    f = np.asarray(features, dtype=np.float64)
    if f.ndim == 4:  # (N, H, W, C): every position of every image is a sample
        return f.reshape(-1, f.shape[-1])
    if f.ndim == 2:
        return f
    raise ValueError(f"features must be (N, C) or (N, H, W, C), got shape {f.shape}")


def rank_stats(features, tol=None):
    """Numerical rank, rank ratio (rank / channels), nuclear norm and singular values.

    ``features``: (samples, channels) or (N, H, W, C). The rank counts singular
    values above ``tol`` (default NumPy's ``matrix_rank`` rule:
    ``S.max() * max(M, N) * eps``).
    """
    m = _matrix(features)
    s = np.linalg.svd(m, compute_uv=False)
    if tol is None:
        tol = s.max(initial=0.0) * max(m.shape) * np.finfo(m.dtype).eps
    rank = int((s > tol).sum())
    channels = m.shape[1]
    return {"rank": rank, "channels": channels, "rank_ratio": rank / channels,
            "nuclear_norm": float(s.sum()), "singular_values": s, "samples": m.shape[0]}


def default_layers(model):
    """Every block output of a keras_rexnet model, plus the head (when present)."""
    from keras_rexnet.model import block_outputs

    out = [name for _, name in block_outputs(model)]
    if "head_act" in {layer.name for layer in model.layers}:
        out.append("head_act")
    return out


def feature_rank(model, images, layers=None, batch_size=32, tol=None):
    """For chosen layers: ``{layer: {rank, channels, rank_ratio, nuclear_norm, ...}}``.

    ``images``: a batch the model takes (e.g. RGB pixels for the default models).
    ``layers``: layer names (default: every block output and the head). For feature
    maps each spatial position of each image is a sample, so the rank is that of
    the (N*H*W, C) feature matrix; pooled features give (N, C).
    """
    import keras

    layers = list(layers) if layers is not None else default_layers(model)
    if not layers:
        raise ValueError("no layers to analyse")
    missing = [n for n in layers if n not in {layer.name for layer in model.layers}]
    if missing:
        raise ValueError(f"{model.name!r} has no layers {missing}")
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in layers])
    outputs = probe.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0)
    if len(layers) == 1:
        outputs = [outputs]
    return {name: rank_stats(out, tol) for name, out in zip(layers, outputs)}


def plot_singular_values(results, ax=None, cumulative=True):
    """Plot the normalized singular value distribution per layer (Figure 5, right).

    Singular values are normalized to [0, 1] by the largest; with ``cumulative`` the
    curve is their cumulative distribution. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    for name, r in results.items():
        s = np.sort(r["singular_values"] / max(r["singular_values"].max(), 1e-12))
        if cumulative:
            ax.plot(s, np.arange(1, len(s) + 1) / len(s), label=name)
        else:
            ax.hist(s, bins=50, histtype="step", label=name)
    ax.set_xlabel("normalized singular value")
    ax.set_ylabel("cumulative fraction" if cumulative else "count")
    ax.legend(fontsize="small")
    return ax
