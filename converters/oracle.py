"""A NumPy forward pass of the PyTorch ReXNet models: the converter's oracle, no torch needed.

It computes what the official code (and timm's ``RexNet``) computes in eval mode, read off the
architecture spec (:mod:`keras_rexnet.spec`) and a state dict in any checkpoint layout
(``official_v1``, ``official_lite``, ``timm``), with PyTorch's semantics written out here rather
than borrowed from the Keras model it judges:

* convolutions pad ``k // 2`` on every side for every stride (PyTorch ``padding=k // 2``);
* BatchNorm is ``(x - running_mean) / sqrt(running_var + 1e-5) * weight + bias``
  (``nn.BatchNorm2d``'s default eps, which the official and timm models keep);
* SiLU ``x * sigmoid(x)``, ReLU6 ``min(max(x, 0), 6)``, ReLU;
* squeeze-excite: mean over H and W, 1x1 conv (bias), BN, ReLU, 1x1 conv (bias), sigmoid gate;
* the partial shortcut adds the block input to its first ``in_channels`` output channels.

Weights are taken in PyTorch's shapes (OIHW convolutions, ``(C, 1, k, k)`` depthwise kernels,
``(O, I)`` linear or ``(O, I, 1, 1)`` conv classifiers): only the key names come from
:func:`keras_rexnet.converters.layouts.table`, not its conversion to Keras shapes, so a wrong
transpose in the converter shows up as a difference instead of being reproduced.

The input is a float32 NHWC batch; everything is computed in float64 by default (1x1
convolutions as matrix products, the 3x3 stem through im2col, depthwise convolutions as
``k * k`` shifted multiply-adds), so its own rounding error is far below the float32 model's.
"""

import collections

import numpy as np

from keras_rexnet.converters.layouts import classifier_key, table
from keras_rexnet.model import block_output_name

PYTORCH_BN_EPS = 1e-5  # nn.BatchNorm2d's default; the official and timm models keep it


def _sigmoid_(x):
    """In place: ``x <- 1 / (1 + exp(-x))`` (exp overflows to inf for x << 0: gives 0)."""
    with np.errstate(over="ignore"):
        np.negative(x, out=x)
        np.exp(x, out=x)
    x += 1
    np.reciprocal(x, out=x)
    return x


def _act_(x, name):
    """Apply activation ``name`` to ``x`` in place (``x`` must be an array this module made)."""
    if name in ("silu", "swish"):
        denom = np.negative(x)
        with np.errstate(over="ignore"):
            np.exp(denom, out=denom)
        denom += 1
        np.divide(x, denom, out=x)  # x * sigmoid(x) = x / (1 + exp(-x))
    elif name == "relu6":
        np.clip(x, 0.0, 6.0, out=x)
    elif name == "relu":
        np.maximum(x, 0.0, out=x)
    elif name == "sigmoid":
        _sigmoid_(x)
    else:
        raise ValueError(f"the NumPy oracle has no activation {name!r}")
    return x


class _Params:
    """The state dict's tensors per Keras layer name, checked against the layout's table."""

    def __init__(self, spec, state, layout, classes, dtype):
        self.dtype = dtype
        entries = table(spec, layout, classes)
        self.layers = {}
        missing, wrong = [], []
        used = set()
        for entry in entries:
            arrays = []
            for key, shape in entry.tensors():
                used.add(key)
                if key not in state:
                    missing.append(key)
                    continue
                value = np.asarray(state[key])
                if tuple(value.shape) != tuple(shape):
                    wrong.append(f"{key} {tuple(value.shape)} (expected {tuple(shape)})")
                arrays.append(value)
            self.layers[entry.layer] = arrays
        unexpected = [k for k in state if k not in used and not k.endswith("num_batches_tracked")]
        problems = []
        if missing:
            problems.append(f"missing {len(missing)} tensors ({', '.join(missing[:3])})")
        if wrong:
            problems.append(f"{len(wrong)} tensors of the wrong shape ({', '.join(wrong[:3])})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected tensors ({', '.join(unexpected[:3])})")
        if problems:
            raise ValueError(f"the state dict does not fit {layout} for this spec: "
                             + "; ".join(problems))

    def _arrays(self, layer):
        return [a.astype(self.dtype) for a in self.layers[layer]]

    def matrix(self, layer):
        """A 1x1 conv or linear layer as ``(in, out)`` matrix and bias (or None)."""
        arrays = self._arrays(layer)
        w = arrays[0]
        w = w.reshape(w.shape[0], w.shape[1])  # (O, I[, 1, 1]) -> (O, I)
        return w.T, (arrays[1] if len(arrays) > 1 else None)

    def kernel(self, layer):
        """A full conv's OIHW kernel."""
        return self._arrays(layer)[0]

    def depthwise(self, layer):
        """A depthwise kernel as ``(k, k, C)`` (tap (i, j) multiplies channel c by [i, j, c])."""
        w = self._arrays(layer)[0]  # (C, 1, k, k)
        return np.ascontiguousarray(w[:, 0].transpose(1, 2, 0))

    def bn(self, layer):
        """BatchNorm as ``(scale, shift)``: ``y = x * scale + shift``."""
        gamma, beta, mean, var = self._arrays(layer)
        scale = gamma / np.sqrt(var + PYTORCH_BN_EPS)
        return scale, beta - mean * scale


def _pad(x, p):
    if p == 0:
        return x
    return np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))


def _taps(x, k, stride):
    """``(i, j, view)`` for every tap of a k x k window (PyTorch padding k // 2 on every side)."""
    x = _pad(x, k // 2)
    _, h, w, _ = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"the input is too small for a {k}x{k} convolution with stride {stride}")
    for i in range(k):
        for j in range(k):
            yield i, j, x[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]


def _conv_kxk(x, kernel, stride):
    """A full k x k convolution (OIHW kernel) through im2col and one matrix product."""
    o, cin, k, _ = kernel.shape
    cols = np.concatenate([tap for _, _, tap in _taps(x, k, stride)], axis=-1)
    n, oh, ow, _ = cols.shape
    w = kernel.transpose(2, 3, 1, 0).reshape(k * k * cin, o)  # rows ordered (i, j, c) as cols
    return (cols.reshape(-1, k * k * cin) @ w).reshape(n, oh, ow, o)


def _conv_1x1(x, matrix, bias=None):
    n, h, w, c = x.shape
    out = (x.reshape(-1, c) @ matrix).reshape(n, h, w, matrix.shape[1])
    if bias is not None:
        out += bias
    return out


def _depthwise(x, kernel, stride):
    """``sum_ij tap_ij(x) * kernel[i, j]``: k * k shifted multiply-adds."""
    out = tmp = None
    for i, j, tap in _taps(x, kernel.shape[0], stride):
        if out is None:
            out = tap * kernel[i, j]
            tmp = np.empty_like(out)
        else:
            np.multiply(tap, kernel[i, j], out=tmp)
            out += tmp
    return out


def _bn_(x, scale_shift):
    scale, shift = scale_shift
    x *= scale
    x += shift
    return x


def _squeeze_excite_(x, params, prefix):
    s = x.mean(axis=(1, 2))
    w, b = params.matrix(f"{prefix}_reduce")
    s = s @ w + b
    _act_(_bn_(s, params.bn(f"{prefix}_bn")), "relu")
    w, b = params.matrix(f"{prefix}_expand")
    gate = _sigmoid_(s @ w + b)
    x *= gate[:, None, None, :]
    return x


def _block(x, block, params):
    """One block; ``x`` (the block input) is left unchanged."""
    prefix = f"block{block.index}"
    h = x
    for op in block.ops:
        name = f"{prefix}_{op.role}"
        if op.kind == "conv":
            h = _conv_1x1(h, params.matrix(name)[0])  # always allocates: h is ours from here on
        elif op.kind == "dwconv":
            h = _depthwise(h, params.depthwise(name), block.stride)
        elif op.kind == "bn":
            _bn_(h, params.bn(name))
        elif op.kind == "act":
            _act_(h, op.act)
        elif op.kind == "se":
            _squeeze_excite_(h, params, f"{prefix}_se")
        else:  # pragma: no cover - the spec only makes the kinds above
            raise ValueError(f"unknown op kind {op.kind!r}")
    if block.shortcut:
        h[..., :block.in_channels] += x
    return h


def intermediates(spec, state, layout, x, classes=None, dtype=np.float64):
    """``{Keras layer name: array}`` of the PyTorch model ``state`` holds, for NHWC input ``x``.

    Names (in order): ``stem_act``, every block's output (``block_output_name``), ``head_act``
    (when the spec has a head conv), ``avg_pool`` and ``predictions`` (logits). Feature maps are
    NHWC, pooled features and logits ``(N, C)``; all in ``dtype``. ``classes`` defaults to the
    classifier's rows in ``state``. Raises ``ValueError`` when ``state`` does not fit the spec.
    """
    if classes is None:
        key = classifier_key(layout)
        if key not in state:
            raise ValueError(f"the state dict has no classifier ({key})")
        classes = int(np.shape(state[key])[0])
    params = _Params(spec, state, layout, classes, dtype)
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[-1] != spec.in_channels:
        raise ValueError(f"expected an NHWC batch with {spec.in_channels} channels, got shape "
                         f"{x.shape}")
    x = x.astype(dtype)
    out = collections.OrderedDict()
    h = _conv_kxk(x, params.kernel("stem_conv"), spec.stem_stride)
    out["stem_act"] = _act_(_bn_(h, params.bn("stem_bn")), spec.stem_act)
    for block in spec.blocks:
        h = _block(h, block, params)
        out[block_output_name(block)] = h
    head = spec.head
    if head.channels is not None:
        h = _conv_1x1(h, params.matrix("head_conv")[0])
        out["head_act"] = _act_(_bn_(h, params.bn("head_bn")), head.act)
    h = h.mean(axis=(1, 2))
    out["avg_pool"] = h
    if head.prelogits_channels:
        w, b = params.matrix("prelogits_conv")
        h = _act_(_bn_(h @ w + b, params.bn("prelogits_bn")), head.prelogits_act)
    w, b = params.matrix("predictions")
    out["predictions"] = h @ w + b
    return out


def predict(spec, state, layout, x, classes=None, dtype=np.float64):
    """The logits ``(N, classes)`` for NHWC input ``x``; see :func:`intermediates`."""
    return intermediates(spec, state, layout, x, classes, dtype)["predictions"]
