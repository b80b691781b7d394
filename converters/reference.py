"""A PyTorch reference of the ReXNet families, built from the same architecture spec.

Its ``state_dict`` keys are the official checkpoint's (``features.{3+i}.out.{j}``,
``output.1`` ...), so an official ``.pth`` loads with ``strict=True``. It is what
the converter's equivalence check runs beside the Keras model, and it reproduces
the official code's outputs (``tests/data/vectors``) to 1e-5.
"""

import collections

import torch
from torch import nn

from keras_rexnet.model import block_output_name

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

    def intermediates(self, x):
        """``{Keras layer name: NCHW output}`` for stem, every block, head, pool and logits."""
        out = collections.OrderedDict()
        n = len(self.spec.blocks)
        x = self.features[2](self.features[1](self.features[0](x)))
        out["stem_act"] = x
        for i, block in enumerate(self.spec.blocks):
            x = self.features[3 + i](x)
            out[block_output_name(block)] = x
        rest = list(self.features)[3 + n:-1]
        if rest:
            for layer in rest:
                x = layer(x)
            out["head_act"] = x
        x = self.features[-1](x)
        out["avg_pool"] = x.flatten(1)
        out["predictions"] = self.output(x).flatten(1)
        return out


def from_state_dict(spec, state, classes=None):
    """A reference model in eval mode with ``state`` (numpy or torch tensors) loaded strictly."""
    if classes is None:
        key = "output.4.weight" if spec.head.prelogits_channels else "output.1.weight"
        classes = state[key].shape[0]
    model = ReferenceReXNet(spec, classes)
    tensors = {k: torch.as_tensor(v) for k, v in state.items()}
    model.load_state_dict(tensors, strict=False)
    expected = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    if set(tensors) != expected:
        raise ValueError(f"state dict does not match the reference: missing "
                         f"{sorted(expected - set(tensors))[:5]}, unexpected "
                         f"{sorted(set(tensors) - expected)[:5]}")
    return model.eval()
