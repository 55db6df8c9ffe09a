"""DenseNet (Huang et al. 2017, "Densely Connected Convolutional Networks") sized for small images.

A 3x3 stem convolution makes `stem` channels (0 = 2 x growth rate). Each dense block has L layers;
layer l receives the concatenation of the block input and every earlier layer's k new feature maps
(k = `growth_rate`), so a block turns c channels into c + L*k. A layer is BN-ReLU-Conv1x1 to 4k
channels (the bottleneck, DenseNet-B) then BN-ReLU-Conv3x3 to k. Between blocks a transition layer
(BN-ReLU-Conv1x1 then 2x2 average pooling) compresses c channels to floor(`compression` * c)
(DenseNet-C) and halves height and width. The head is BN-ReLU, global average pooling and a linear
layer. `shift` > 0 shifts training images by up to that many pixels (light augmentation); with `tta` a
prediction averages the logits of every shift training drew from (test-time augmentation).

Three blocks halve an 8x8 digit twice (8 -> 4 -> 2) and a 28x28 one to 7x7.
"""

from __future__ import annotations

import torch
from torch import nn

from models.layers import RandomShift


class DenseLayer(nn.Module):
    """BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k); returns its input with the k new maps appended."""

    def __init__(self, channels: int, growth_rate: int, *, bottleneck: bool = True, dropout: float = 0.0):
        super().__init__()
        parts: list[nn.Module] = []
        width = channels
        if bottleneck:
            width = 4 * growth_rate
            parts += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.Conv2d(channels, width, 1, bias=False)]
        parts += [nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.Conv2d(width, growth_rate, 3, padding=1, bias=False)]
        if dropout:
            parts.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*parts)

    def forward(self, x):
        return torch.cat([x, self.body(x)], dim=1)


class Transition(nn.Module):
    """BN-ReLU-Conv1x1 to `out_channels`, then 2x2 average pooling."""

    def __init__(self, channels: int, out_channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
                                  nn.Conv2d(channels, out_channels, 1, bias=False), nn.AvgPool2d(2))

    def forward(self, x):
        return self.body(x)


def channel_plan(growth_rate: int, blocks: list[int], compression: float, stem: int = 0) -> list[int]:
    """Channels after the stem, after each dense block and after each transition, in order:
    [c0, c0 + L1*k, floor(theta * (c0 + L1*k)), ...]."""
    c = int(stem) or 2 * int(growth_rate)
    plan = [c]
    for i, n_layers in enumerate(blocks):
        c += int(n_layers) * int(growth_rate)
        plan.append(c)
        if i < len(blocks) - 1:
            c = max(1, int(compression * c))
            plan.append(c)
    return plan


class DenseNet(nn.Module):
    """DenseNet-BC for (C, H, W) images; `channels` lists the channel counts (see `channel_plan`)."""

    def __init__(self, in_channels: int, height: int, width: int, n_out: int, *, growth_rate: int = 12,
                 blocks: tuple = (4, 4, 4), bottleneck: bool = True, compression: float = 0.5, stem: int = 0,
                 dropout: float = 0.0, shift: int = 1, tta: bool = False):
        super().__init__()
        halvings = len(blocks) - 1
        if min(height, width) >> halvings < 1:
            raise ValueError(f"{len(blocks)} dense blocks halve a {height}x{width} image {halvings} times, "
                             f"below one pixel; use at most {max(1, min(height, width).bit_length())} blocks")
        self.channels = channel_plan(growth_rate, list(blocks), compression, stem)
        self.shift = RandomShift(shift)
        self.tta = bool(tta) and shift > 0
        self.stem = nn.Conv2d(in_channels, self.channels[0], 3, padding=1, bias=False)
        parts: list[nn.Module] = []
        c = self.channels[0]
        for i, n_layers in enumerate(blocks):
            for _ in range(int(n_layers)):
                parts.append(DenseLayer(c, growth_rate, bottleneck=bottleneck, dropout=dropout))
                c += growth_rate
            if i < len(blocks) - 1:
                out = max(1, int(compression * c))
                parts.append(Transition(c, out))
                c = out
        self.features = nn.Sequential(*parts)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(c, n_out))

    def forward(self, x):
        if self.tta and not self.training:
            logits = self.head(self.features(self.stem(self.shift.views(x))))
            return logits.view(-1, len(x), logits.shape[-1]).mean(0)
        return self.head(self.features(self.stem(self.shift(x))))
