"""A local, clearly labelled stand-in for ``captum_fggb.models.iresnet50`` (timing only).

Used by ``benchmarks/run.py`` and ``benchmarks/gpu_check.py`` only while the package's own
IResNet-50 (issue 3, branch ``issue3-backbones``) is not importable. Same layers and sizes as
insightface ``arcface_torch``'s ``iresnet50`` (3-4-14-3 pre-activation blocks, BN-Dropout-FC-BN
head, 512-d output, 43.6 M parameters), random weights with residual branches scaled down so that
activations stay bounded. It is not a trained model and never leaves ``benchmarks/``.
"""

from __future__ import annotations

from typing import Callable, Tuple

import torch
from torch import nn


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out),
            nn.PReLU(c_out), nn.Conv2d(c_out, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.down = None
        if stride != 1 or c_in != c_out:
            self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.branch(x) + (x if self.down is None else self.down(x))


class IResNet50StandIn(nn.Module):
    """``(N, 3, 112, 112)`` RGB in ``[0, 1]`` → ``(N, 512)``; random weights (timing only)."""

    input_size: Tuple[int, int] = (112, 112)
    verification_threshold = 0.3  # arbitrary: the weights are random

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        layers, c = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64)], 64
        for width, blocks in zip((64, 128, 256, 512), (3, 4, 14, 3)):
            layers += [_Block(c, width, 2)] + [_Block(width, width, 1) for _ in range(blocks - 1)]
            c = width
        self.body = nn.Sequential(*layers, nn.BatchNorm2d(512))
        self.head = nn.Sequential(nn.Dropout(0.0), nn.Linear(512 * 7 * 7, 512), nn.BatchNorm1d(512))
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, _Block):
                    m.branch[-1].weight.mul_(0.2)
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body((x - 0.5) / 0.5).flatten(1))


def iresnet50_builder() -> Tuple[Callable[[], nn.Module], str]:
    """The package's IResNet-50 when importable, else the stand-in, with a label for tables."""
    try:
        from captum_fggb.models import iresnet50  # issue 3
    except ImportError:
        return IResNet50StandIn, "IResNet-50 stand-in (benchmarks/_standin.py; captum_fggb.models.iresnet50 not importable), random weights"
    return (lambda: iresnet50(threshold=0.3)), "IResNet-50 (captum_fggb.models.iresnet50), random weights"
