"""Small synthetic embedders for fast edge-case tests."""

from __future__ import annotations

import torch
from torch import nn


class TinyEmbedder(nn.Module):
    """Conv → BatchNorm → PReLU → Conv → PReLU → pool → Linear: ``(N, 3, 16, 16)`` → ``(N, 12)``.

    Has BatchNorm and Dropout so that train/eval semantics differ, and PReLU like face backbones.
    """

    input_size = (16, 16)
    verification_threshold = 0.2

    def __init__(self, seed: int = 0, dim: int = 12, size: int = 16) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.input_size = (size, size)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.act1 = nn.PReLU(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.act2 = nn.PReLU(8)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(8 * 16, dim)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
            self.bn.running_mean.copy_(torch.randn(8, generator=generator) * 0.1)
            self.bn.running_var.copy_(torch.rand(8, generator=generator) + 0.5)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.bn(self.conv1(x)))
        h = self.pool(self.act2(self.conv2(h)))
        return self.fc(self.drop(h.flatten(1)))
