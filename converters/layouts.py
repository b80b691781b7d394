"""Checkpoint layouts: from the architecture spec to (Keras layer, checkpoint key) tables.

A layout names the checkpoint key of every layer the spec describes. The tables
are generated from :mod:`keras_rexnet.spec` -- there is no hand-written key list --
and each :class:`Entry` knows the PyTorch shapes it expects and how its tensors
become the Keras layer's weights.

Layouts:
* ``official_v1`` / ``official_lite``: NAVER's ``rexnetv1_*.pth`` / ``rexnet_lite_*.pth``
  (``features.{3+i}.out.{j}``; ``j`` is the op's position in ``Block.ops``).
* ``timm``: timm's ``rexnet_*`` and ``rexnetr_*`` (``features.{i}.conv_dw.conv`` ...).
"""

import dataclasses

import numpy as np

LAYOUTS = ("official_v1", "official_lite", "timm")
FAMILY_OF_LAYOUT = {"official_v1": "rexnet_v1", "official_lite": "rexnet_lite", "timm": "rexnet_v1"}


@dataclasses.dataclass(frozen=True)
class Entry:
    """One Keras layer fed from one checkpoint module.

    kind: ``conv`` (Conv2D from OIHW), ``dwconv`` (DepthwiseConv2D from (C,1,k,k)),
    ``bn`` (BatchNormalization), ``dense`` (Dense from a 1x1 conv or a linear layer).
    """

    layer: str
    kind: str
    key: str
    out_channels: int
    in_channels: int = 0
    kernel_size: int = 1
    bias: bool = False
    top: bool = False  # part of the classifier (include_top)
    linear: bool = False  # dense from a 2-D linear weight (timm) rather than a 1x1 conv

    def tensors(self):
        """``[(checkpoint key, PyTorch shape)]`` in the order of the Keras layer's weights."""
        k, o, i = self.kernel_size, self.out_channels, self.in_channels
        if self.kind == "bn":
            return [(f"{self.key}.{n}", (o,)) for n in
                    ("weight", "bias", "running_mean", "running_var")]
        if self.kind == "dwconv":
            shape = (o, 1, k, k)
        elif self.kind == "dense" and self.linear:
            shape = (o, i)
        else:
            shape = (o, i, k, k)
        out = [(f"{self.key}.weight", shape)]
        if self.bias:
            out.append((f"{self.key}.bias", (o,)))
        return out

    def to_keras(self, arrays):
        """PyTorch arrays (in :meth:`tensors` order) -> the Keras layer's weights."""
        if self.kind == "bn":
            return list(arrays)
        w = arrays[0]
        if self.kind == "conv":
            w = np.transpose(w, (2, 3, 1, 0))  # OIHW -> HWIO
        elif self.kind == "dwconv":
            w = np.transpose(w, (2, 3, 0, 1))  # (C,1,k,k) -> (k,k,C,1)
        elif self.kind == "dense":
            w = w.reshape(w.shape[0], -1).T  # (O,I[,1,1]) -> (I,O)
        return [np.ascontiguousarray(w)] + list(arrays[1:])

    def from_keras(self, weights):
        """The inverse of :meth:`to_keras` (Keras weights -> PyTorch arrays)."""
        if self.kind == "bn":
            return [np.asarray(w) for w in weights]
        w = np.asarray(weights[0])
        if self.kind == "conv":
            w = np.transpose(w, (3, 2, 0, 1))
        elif self.kind == "dwconv":
            w = np.transpose(w, (2, 3, 0, 1))
        elif self.kind == "dense":
            w = w.T if self.linear else w.T[:, :, None, None]
        return [np.ascontiguousarray(w)] + [np.asarray(b) for b in weights[1:]]


def _block_entries(block, key_of):
    """Entries of one block; ``key_of(op_index, op)`` gives the checkpoint prefix of an op."""
    out = []
    cin, hid, cout = block.in_channels, block.hidden_channels, block.out_channels
    name = f"block{block.index}"
    for j, op in enumerate(block.ops):
        key = key_of(j, op)
        if op.role == "expand_conv":
            out.append(Entry(f"{name}_expand_conv", "conv", key, hid, cin))
        elif op.role == "project_conv":
            out.append(Entry(f"{name}_project_conv", "conv", key, cout, hid))
        elif op.kind == "dwconv":
            out.append(Entry(f"{name}_dw_conv", "dwconv", key, hid, 1, block.kernel_size))
        elif op.kind == "bn":
            width = cout if op.role == "project_bn" else hid
            out.append(Entry(f"{name}_{op.role}", "bn", key, width))
        elif op.kind == "se":
            se, (reduce_key, bn_key, expand_key) = block.se_channels, key
            out += [Entry(f"{name}_se_reduce", "conv", reduce_key, se, hid, bias=True),
                    Entry(f"{name}_se_bn", "bn", bn_key, se),
                    Entry(f"{name}_se_expand", "conv", expand_key, hid, se, bias=True)]
    return out


_TIMM_ROLES = {"expand_conv": "conv_exp.conv", "expand_bn": "conv_exp.bn",
               "dw_conv": "conv_dw.conv", "dw_bn": "conv_dw.bn",
               "project_conv": "conv_pwl.conv", "project_bn": "conv_pwl.bn"}


def table(spec, layout, classes=1000):
    """All entries of ``spec`` in ``layout``, classifier entries marked ``top=True``."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    n = len(spec.blocks)
    entries = []
    official = layout.startswith("official")
    stem_conv, stem_bn = ("features.0", "features.1") if official else ("stem.conv", "stem.bn")
    entries.append(Entry("stem_conv", "conv", stem_conv, spec.stem_channels, spec.in_channels, 3))
    entries.append(Entry("stem_bn", "bn", stem_bn, spec.stem_channels))
    for block in spec.blocks:
        if official:
            base = f"features.{3 + block.index}.out"

            def key_of(j, op, base=base):
                if op.kind == "se":
                    return (f"{base}.{j}.fc.0", f"{base}.{j}.fc.1", f"{base}.{j}.fc.3")
                return f"{base}.{j}"
        else:
            base = f"features.{block.index}"

            def key_of(j, op, base=base):
                if op.kind == "se":
                    return (f"{base}.se.fc1", f"{base}.se.bn", f"{base}.se.fc2")
                return f"{base}.{_TIMM_ROLES.get(op.role, op.role)}"
        entries += _block_entries(block, key_of)
    head = spec.head
    if head.channels is not None:
        last = spec.blocks[-1].out_channels
        conv, bn = ((f"features.{3 + n}", f"features.{4 + n}") if official
                    else (f"features.{n}.conv", f"features.{n}.bn"))
        entries.append(Entry("head_conv", "conv", conv, head.channels, last))
        entries.append(Entry("head_bn", "bn", bn, head.channels))
    if layout == "official_lite":
        p = head.prelogits_channels
        entries += [Entry("prelogits_conv", "dense", "output.0", p, spec.num_features, bias=True,
                          top=True),
                    Entry("prelogits_bn", "bn", "output.1", p, top=True),
                    Entry("predictions", "dense", "output.4", classes, p, bias=True, top=True)]
    elif layout == "official_v1":
        entries.append(Entry("predictions", "dense", "output.1", classes, spec.num_features,
                             bias=True, top=True))
    else:
        entries.append(Entry("predictions", "dense", "head.fc", classes, spec.num_features,
                             bias=True, top=True, linear=True))
    return entries


def classifier_key(layout):
    return {"official_v1": "output.1.weight", "official_lite": "output.4.weight",
            "timm": "head.fc.weight"}[layout]


def layout_of(keys):
    """The layout a set of checkpoint keys is in, or None."""
    keys = set(keys)
    if "features.0.weight" in keys and any(k.startswith("features.3.out.") for k in keys):
        # The lite model has no squeeze-excite and a two-layer `output` head.
        if "output.4.weight" in keys or not any(".fc.0.weight" in k for k in keys):
            return "official_lite"
        return "official_v1"
    if "stem.conv.weight" in keys and "features.0.conv_dw.conv.weight" in keys:
        return "timm"
    return None
