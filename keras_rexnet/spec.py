"""The architecture spec: the one source of truth for every ReXNet configuration.

Pure Python, no Keras, no torch. The Keras builder, the NumPy oracle, the
checkpoint key mappings, the MAC counter and the docs all read the objects built
here; no other module holds a channel formula.

Every family follows the official NAVER models to the channel (``docs/architecture.md``
states the rules; ``tests/data`` holds the official checkpoints' key layouts):

* :func:`rexnet_v1` -- ReXNetV1 (SE, SiLU); with ``ch_div > 1`` it is timm's
  ``rexnetr_*`` variant, whose channels are rounded with timm's ``make_divisible``.
* :func:`rexnet_lite` -- ReXNetV1_lite (no SE, ReLU6 only, ``n - 1`` channel rule).
* :func:`rexnet_plain` -- ReXNet (plain), reconstructed from the paper's appendix B.2.

A network is a stem, a sequence of :class:`Block` and a :class:`Head`. Each block
lists its layers (:class:`Op`) *in the order of the official PyTorch module list*,
so that the official checkpoint index ``out.{j}`` of a layer is its position in
``Block.ops`` and the Keras builder applies the same ops in the same order.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Tuple

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

STAGE_DEPTHS = (1, 2, 2, 3, 3, 5)
STAGE_STRIDES = (1, 2, 2, 2, 1, 2)
STAGE_SE = (False, False, True, True, True, True)
SE_RATIO = 12


def make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
    """Round ``v`` to a multiple of ``divisor`` (the MobileNet/timm rule).

    ``max(min_value, int(v + divisor / 2) // divisor * divisor)``, plus one
    ``divisor`` when that falls below ``round_limit * v``. With the defaults it is
    the official ReXNet-lite ``_make_divisible`` and timm's ``make_divisible``.
    """
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


@dataclasses.dataclass(frozen=True)
class Op:
    """One layer of a block, in official module order.

    kind: ``conv`` (1x1), ``dwconv`` (depthwise kxk), ``bn``, ``act`` or ``se``.
    role: the Keras name suffix (``expand_conv``, ``dw_bn``, ``se`` ...).
    """

    kind: str
    role: str
    act: Optional[str] = None  # for kind == "act": "silu" | "relu6" | "relu"


@dataclasses.dataclass(frozen=True)
class Block:
    index: int
    in_channels: int
    out_channels: int
    stride: int
    expansion: float
    hidden_channels: int  # the depthwise width (in * t, or in when t == 1)
    se_channels: int  # 0: no squeeze-excite
    expand_act: Optional[str]  # None when there is no expansion conv
    dw_act: str
    project_act: Optional[str]
    shortcut: bool  # partial shortcut: out[..., :in] += x
    kernel_size: int = 3

    @property
    def has_expand(self):
        return self.expand_act is not None

    @property
    def ops(self) -> Tuple[Op, ...]:
        """The block's layers in the order of the official ``out`` module list."""
        ops = []
        if self.has_expand:
            ops += [Op("conv", "expand_conv"), Op("bn", "expand_bn"),
                    Op("act", "expand_act", self.expand_act)]
        ops += [Op("dwconv", "dw_conv"), Op("bn", "dw_bn")]
        if self.se_channels:
            ops.append(Op("se", "se"))
        ops.append(Op("act", "dw_act", self.dw_act))
        ops += [Op("conv", "project_conv"), Op("bn", "project_bn")]
        if self.project_act:
            ops.append(Op("act", "project_act", self.project_act))
        return tuple(ops)


@dataclasses.dataclass(frozen=True)
class Head:
    """What follows the last block.

    ``channels``: width of the 1x1 head conv (+BN+act), or None when the last
    block already is the wide layer (ReXNet plain). ``prelogits_channels``: the
    lite model's pooled 1x1 conv (+BN+ReLU6) before the classifier, else None.
    """

    channels: Optional[int]
    act: Optional[str]
    prelogits_channels: Optional[int] = None
    prelogits_act: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class NetSpec:
    family: str  # "rexnet_v1" | "rexnet_lite" | "rexnet_plain" | "custom"
    width: float
    stem_channels: int
    stem_act: str
    blocks: Tuple[Block, ...]
    head: Head
    ch_div: int = 1
    stem_stride: int = 2
    in_channels: int = 3

    @property
    def num_features(self) -> int:
        """Channels of the pooled features (``include_top=False, pooling=...``)."""
        if self.head.channels is not None:
            return self.head.channels
        return self.blocks[-1].out_channels

    @property
    def classifier_in(self) -> int:
        return self.head.prelogits_channels or self.num_features

    def feature_blocks(self):
        """``{stride: block index}``: the last block at each output stride."""
        out, stride = {}, self.stem_stride
        for block in self.blocks:
            stride *= block.stride
            out[stride] = block.index
        return out

    def trainable_params(self, classes=1000, include_top=True) -> int:
        """Trainable parameters (PyTorch ``parameters()``), computed from the spec."""

        def conv(cin, cout, k=1, bias=False):
            return cin * cout * k * k + (cout if bias else 0)

        total = conv(self.in_channels, self.stem_channels, 3) + 2 * self.stem_channels
        for b in self.blocks:
            if b.has_expand:
                total += conv(b.in_channels, b.hidden_channels) + 2 * b.hidden_channels
            total += b.hidden_channels * b.kernel_size ** 2 + 2 * b.hidden_channels
            if b.se_channels:
                total += conv(b.hidden_channels, b.se_channels, bias=True) + 2 * b.se_channels
                total += conv(b.se_channels, b.hidden_channels, bias=True)
            total += conv(b.hidden_channels, b.out_channels) + 2 * b.out_channels
        if self.head.channels is not None:
            total += conv(self.blocks[-1].out_channels, self.head.channels) + 2 * self.head.channels
        if include_top:
            if self.head.prelogits_channels:
                p = self.head.prelogits_channels
                total += conv(self.num_features, p, bias=True) + 2 * p
            total += conv(self.classifier_in, classes, bias=True)
        return total


def _stage_layout(depth_mult=1.0):
    """Per block: (stride, expansion, use_se) for the six ReXNet stages."""
    depths = [math.ceil(d * depth_mult) for d in STAGE_DEPTHS]
    layout = []
    for stage, (depth, stride, se) in enumerate(zip(depths, STAGE_STRIDES, STAGE_SE)):
        for j in range(depth):
            first = stage == 0 and j == 0
            layout.append((stride if j == 0 else 1, 1 if first else 6, se))
    return layout


def _check_width(width, name="width"):
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) \
            or width <= 0:
        raise ValueError(f"`{name}` must be a positive number, got {width!r}")
    return float(width)


def rexnet_v1(width=1.0, depth_mult=1.0, ch_div=1, initial_channels=16, final_channels=180):
    """ReXNetV1 (official) or, with ``ch_div > 1``, timm's ``rexnetr_*`` rounding.

    With ``ch_div == 1`` every channel count is the official code's:
    ``int(round(p * w))`` for block outputs, ``in * t`` for the depthwise width,
    ``dw // 12`` for SE and ``int(1280 * w)`` for the head. With ``ch_div > 1``
    each of them goes through timm's ``make_divisible(..., ch_div)`` as timm's
    ``rexnet.py`` does.
    """
    w = _check_width(width)
    _check_width(depth_mult, "depth_mult")
    layout = _stage_layout(depth_mult)
    n = len(layout)
    stem = 32 / w if w < 1 else 32
    p = initial_channels / w if w < 1 else initial_channels

    if ch_div == 1:
        def div(v):
            return int(round(v))
        stem_ch = int(round(stem * w))
        head_ch = int(1280 * w)
    else:
        def div(v):
            return make_divisible(round(v), ch_div)
        stem_ch = div(stem * w)
        head_ch = make_divisible(1280 * w, ch_div)

    outs = []
    for _ in range(n):
        outs.append(div(p * w))
        p += final_channels / n
    blocks = []
    cin = stem_ch
    for i, ((stride, t, se), cout) in enumerate(zip(layout, outs)):
        if t == 1:
            hidden = cin
        else:
            hidden = cin * t if ch_div == 1 else make_divisible(round(cin * t), ch_div)
        if not se:
            se_ch = 0
        elif ch_div == 1:
            se_ch = hidden // SE_RATIO
        else:
            se_ch = make_divisible(int(hidden * (1.0 / SE_RATIO)), ch_div)
        blocks.append(Block(
            index=i, in_channels=cin, out_channels=cout, stride=stride, expansion=t,
            hidden_channels=hidden, se_channels=se_ch,
            expand_act="silu" if t != 1 else None, dw_act="relu6", project_act=None,
            shortcut=stride == 1 and cin <= cout))
        cin = cout
    return NetSpec("rexnet_v1", w, stem_ch, "silu", tuple(blocks), Head(head_ch, "silu"),
                   ch_div=ch_div)


def rexnet_lite(width=1.0, depth_mult=1.0):
    """ReXNetV1_lite with multiplier ``width`` (the official code's ``multiplier``)."""
    m = _check_width(width)
    _check_width(depth_mult, "depth_mult")
    layout = _stage_layout(depth_mult)
    n = len(layout)
    stem = 32 / m if m < 1 else 32
    p = 16 / m if m < 1 else 16
    final_ch = 164
    stem_ch = make_divisible(int(round(stem * m)))
    blocks = []
    for i, (stride, t, _se) in enumerate(layout):
        if i == 0:
            cin = stem_ch
        else:
            cin = make_divisible(int(round(p * m)))
            p += final_ch / (n - 1)
        cout = make_divisible(int(round(p * m)))
        blocks.append(Block(
            index=i, in_channels=cin, out_channels=cout, stride=stride, expansion=t,
            hidden_channels=cin * t, se_channels=0,
            expand_act="relu6" if t != 1 else None, dw_act="relu6", project_act=None,
            shortcut=stride == 1 and cin <= cout))
    pen = int(1280 * m) if m > 1 else 1280
    head = Head(pen, "relu6", prelogits_channels=1024, prelogits_act="relu6")
    return NetSpec("rexnet_lite", m, stem_ch, "relu6", tuple(blocks), head, ch_div=8)


PLAIN_STRIDES = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)


def rexnet_plain(width=1.0):
    """ReXNet (plain), appendix B.2: MobileNetV1 with the linear channel rule.

    Stem 3x3/2 -> 32 + BN + ReLU; 13 depthwise-separable blocks (dw 3x3 + BN + ReLU,
    then pointwise 1x1 + BN + SiLU) with MobileNetV1's strides; pointwise widths
    ``96 + 48 * i`` (i = 0..11), then MobileNetV1's unchanged 1024. ``width``
    scales every width as ``int(round(c * width))``.
    """
    w = _check_width(width)
    widths = [96 + 48 * i for i in range(12)] + [1024]
    stem_ch = int(round(32 * w))
    blocks, cin = [], stem_ch
    for i, (stride, c) in enumerate(zip(PLAIN_STRIDES, widths)):
        cout = int(round(c * w))
        blocks.append(Block(
            index=i, in_channels=cin, out_channels=cout, stride=stride, expansion=1,
            hidden_channels=cin, se_channels=0, expand_act=None, dw_act="relu",
            project_act="silu", shortcut=False))
        cin = cout
    return NetSpec("rexnet_plain", w, stem_ch, "relu", tuple(blocks), Head(None, None))


# --------------------------------------------------------------------------------------
# Named configurations (timm-style names).

V1_WIDTHS = {"090": 0.9, "100": 1.0, "130": 1.3, "150": 1.5, "200": 2.0, "220": 2.2, "300": 3.0}
LITE_WIDTHS = {"100": 1.0, "130": 1.3, "150": 1.5, "200": 2.0}
R_WIDTHS = {"100": 1.0, "130": 1.3, "150": 1.5, "200": 2.0, "300": 3.0}
PLAIN_WIDTHS = {"100": 1.0}


def _names():
    out = {}
    for tag, w in V1_WIDTHS.items():
        out[f"rexnet_{tag}"] = ("rexnet_v1", w, 1)
    for tag, w in LITE_WIDTHS.items():
        out[f"rexnet_lite_{tag}"] = ("rexnet_lite", w, 8)
    for tag, w in R_WIDTHS.items():
        out[f"rexnetr_{tag}"] = ("rexnet_v1", w, 16 if w >= 3.0 else 8)
    for tag, w in PLAIN_WIDTHS.items():
        out[f"rexnet_plain_{tag}"] = ("rexnet_plain", w, 1)
    return out


MODEL_NAMES = _names()


def spec_for(family, width=1.0, ch_div=1):
    if family == "rexnet_v1":
        return rexnet_v1(width, ch_div=ch_div)
    if family == "rexnet_lite":
        return rexnet_lite(width)
    if family == "rexnet_plain":
        return rexnet_plain(width)
    raise ValueError(f"unknown family {family!r}; expected rexnet_v1, rexnet_lite or rexnet_plain")


def spec_by_name(name):
    """The :class:`NetSpec` of a named model (``rexnet_100``, ``rexnet_lite_150``, ...)."""
    try:
        family, width, ch_div = MODEL_NAMES[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; known models: {', '.join(MODEL_NAMES)}") from None
    return spec_for(family, width, ch_div)


def default_name(spec):
    """The timm-style name of a spec (``rexnet_150``), or a descriptive one."""
    for name, (family, width, ch_div) in MODEL_NAMES.items():
        if family == spec.family and width == spec.width and ch_div == spec.ch_div:
            return name
    tag = f"{spec.width:g}".replace(".", "_")
    return {"rexnet_v1": f"rexnet_w{tag}" if spec.ch_div == 1 else f"rexnetr_w{tag}",
            "rexnet_lite": f"rexnet_lite_w{tag}",
            "rexnet_plain": f"rexnet_plain_w{tag}"}.get(spec.family, f"rexnet_custom_w{tag}")


# --------------------------------------------------------------------------------------
# The paper's design space (Section 4): channels as a function of the block index.


def linear_channels(depth, a, b, f=None):
    """``c_i = a * f(i) + b`` for blocks ``i = 0 .. depth - 1``, rounded half up.

    ``f`` defaults to ``f(i) = i`` (the linear parameterization); pass a piecewise
    linear function (see :func:`piecewise`) for the paper's other searched shapes.
    Table 3 (b)'s best model, 24-33-42-50-59-68-77-85-94, is
    ``linear_channels(9, a=8.75, b=24)``.
    """
    f = f or (lambda i: i)
    out = [int(math.floor(a * f(i) + b + 0.5)) for i in range(depth)]
    if any(c < 1 for c in out):
        raise ValueError(f"channel parameterization gives non-positive channels: {out}")
    return out


def piecewise(*points):
    """A piecewise linear ``f`` through ``(i, f(i))`` points, constant outside them.

    ``piecewise((0, 0), (2.75, 0), (12, 9.25))`` is flat up to block 2.75 and then rises
    by one per block: Table 3 (d)'s best model is ``linear_channels(13, 24, 34, f)``.
    """
    pts = sorted(points)
    if len(pts) < 2:
        raise ValueError("piecewise() needs at least two points")

    def f(i):
        if i <= pts[0][0]:
            return pts[0][1]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            if i <= x1:
                return y0 + (y1 - y0) * (i - x0) / (x1 - x0)
        return pts[-1][1]

    return f


def stagewise_channels(stages):
    """The conventional stage-wise configuration: ``[(channels, blocks), ...]`` -> per block."""
    return [c for c, n in stages for _ in range(n)]


MOBILENETV2_STAGES = ((16, 1), (24, 2), (32, 3), (64, 4), (96, 3), (160, 3), (320, 1))
MOBILENETV2_STRIDES = (1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1)


def custom(channels, strides, expansion=6, first_expansion=1, se=False, activation="silu",
           dw_activation="relu6", stem_channels=32, stem_activation=None, head_channels=1280,
           width=1.0):
    """A network of inverted bottlenecks with the given per-block output ``channels``.

    The published families are instances of this design space; use it to build the
    paper's searched models (Table 3) or a stage-wise baseline and train them.

    Args:
        channels: output channels per block (e.g. from :func:`linear_channels`).
        strides: stride per block (same length).
        expansion: expansion ratio of every block but the first (``first_expansion``).
        se: squeeze-excite (ratio 1/12): a bool for all blocks or a per-block list.
        activation: after the expansion conv, the stem and the head ("silu", "relu6", "relu").
        dw_activation: after the depthwise conv (and SE).
        stem_channels, head_channels: widths of the stem conv and the 1x1 head conv
            (``head_channels=None``: no head conv).
    """
    channels, strides = [int(c) for c in channels], [int(s) for s in strides]
    if not channels or len(channels) != len(strides):
        raise ValueError(f"need one stride per block: {len(channels)} channels, "
                         f"{len(strides)} strides")
    if any(c < 1 for c in channels) or any(s not in (1, 2) for s in strides):
        raise ValueError("channels must be positive and strides 1 or 2")
    se_list = list(se) if isinstance(se, (list, tuple)) else [bool(se)] * len(channels)
    if len(se_list) != len(channels):
        raise ValueError("`se` must be a bool or one bool per block")
    blocks, cin = [], int(stem_channels)
    for i, (cout, stride, use_se) in enumerate(zip(channels, strides, se_list)):
        t = first_expansion if i == 0 else expansion
        hidden = int(round(cin * t))
        blocks.append(Block(
            index=i, in_channels=cin, out_channels=cout, stride=stride, expansion=t,
            hidden_channels=hidden, se_channels=hidden // SE_RATIO if use_se else 0,
            expand_act=activation if t != 1 else None, dw_act=dw_activation, project_act=None,
            shortcut=stride == 1 and cin <= cout))
        cin = cout
    head = Head(int(head_channels), activation) if head_channels else Head(None, None)
    return NetSpec("custom", float(width), int(stem_channels), stem_activation or activation,
                   tuple(blocks), head)
