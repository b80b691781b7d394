"""An eager PyTorch ReXNet built from the architecture spec: a benchmark subject.

``benchmarks/speed.py`` times it as the PyTorch baseline for the lite family, which timm does
not have (for the other families the baseline is timm's own model). Its modules are the
official code's (``features.{3+i}.out.{j}``, ``output.1`` ...) with the same ops. It is not an
oracle: the converter verifies against the NumPy ``keras_rexnet.converters.oracle``.
"""

import torch
from torch import nn

_ACTS = {"silu": nn.SiLU, "relu6": nn.ReLU6, "relu": nn.ReLU}


class SqueezeExcite(nn.Module):
    def __init__(self, channels, reduced):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Conv2d(channels, reduced, 1, bias=True), nn.BatchNorm2d(reduced),
                                nn.ReLU(inplace=False), nn.Conv2d(reduced, channels, 1, bias=True))

    def forward(self, x):
        return x * torch.sigmoid(self.fc(self.avg_pool(x)))


class LinearBottleneck(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.in_channels = block.in_channels
        self.shortcut = block.shortcut
        layers = []
        for op in block.ops:
            if op.kind == "conv":
                cin, cout = ((block.in_channels, block.hidden_channels) if op.role == "expand_conv"
                             else (block.hidden_channels, block.out_channels))
                layers.append(nn.Conv2d(cin, cout, 1, bias=False))
            elif op.kind == "dwconv":
                k = block.kernel_size
                layers.append(nn.Conv2d(block.hidden_channels, block.hidden_channels, k,
                                        stride=block.stride, padding=k // 2,
                                        groups=block.hidden_channels, bias=False))
            elif op.kind == "bn":
                width = block.out_channels if op.role == "project_bn" else block.hidden_channels
                layers.append(nn.BatchNorm2d(width))
            elif op.kind == "act":
                layers.append(_ACTS[op.act]())
            elif op.kind == "se":
                layers.append(SqueezeExcite(block.hidden_channels, block.se_channels))
        self.out = nn.Sequential(*layers)

    def forward(self, x):
        out = self.out(x)
        if self.shortcut:
            c = self.in_channels
            out = torch.cat([out[:, :c] + x, out[:, c:]], dim=1)
        return out


class ReferenceReXNet(nn.Module):
    """ReXNet from a :class:`keras_rexnet.spec.NetSpec`, in the official key layout."""

    def __init__(self, spec, classes=1000, dropout_rate=0.2):
        super().__init__()
        self.spec = spec
        features = [nn.Conv2d(spec.in_channels, spec.stem_channels, 3, stride=spec.stem_stride,
                              padding=1, bias=False),
                    nn.BatchNorm2d(spec.stem_channels), _ACTS[spec.stem_act]()]
        features += [LinearBottleneck(b) for b in spec.blocks]
        head = spec.head
        if head.channels is not None:
            features += [nn.Conv2d(spec.blocks[-1].out_channels, head.channels, 1, bias=False),
                         nn.BatchNorm2d(head.channels), _ACTS[head.act]()]
        features.append(nn.AdaptiveAvgPool2d(1))
        self.features = nn.Sequential(*features)
        if head.prelogits_channels:
            p = head.prelogits_channels
            self.output = nn.Sequential(nn.Conv2d(spec.num_features, p, 1, bias=True),
                                        nn.BatchNorm2d(p), _ACTS[head.prelogits_act](),
                                        nn.Dropout(dropout_rate), nn.Conv2d(p, classes, 1, bias=True))
        else:
            self.output = nn.Sequential(nn.Dropout(dropout_rate),
                                        nn.Conv2d(spec.num_features, classes, 1, bias=True))

    def forward(self, x):
        return self.output(self.features(x)).flatten(1)


def baseline_model(name):
    """The PyTorch baseline of a model name: timm's model, or this reference for the lite
    family (timm has none). Returns ``(model, source label)``."""
    import timm

    from keras_rexnet import spec as specs

    spec = specs.spec_by_name(name)
    if spec.family == "rexnet_lite":  # timm has no lite model: our reference, same ops
        return ReferenceReXNet(spec), "torch reference (eager)"
    return timm.create_model(name), "timm (eager)"


def train_loop_step(model, batch=32, size=128):
    """One step of a plain PyTorch training loop (SGD with momentum, cross-entropy, fixed random
    images and labels) on ``model`` (put in training mode), as a function."""
    import os

    import numpy as np

    torch.set_num_threads(os.cpu_count())
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(
        (batch, 3, size, size)).astype("float32"))
    y = torch.from_numpy(np.random.default_rng(1).integers(0, 1000, batch))

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    return step
