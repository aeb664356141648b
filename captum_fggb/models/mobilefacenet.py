"""MobileFaceNet in the layout of insightface's ``arcface_torch`` (``mbf``).

The module tree, parameter names and shapes are those of
``recognition/arcface_torch/backbones/mobilefacenet.py`` in ``deepinsight/insightface`` with its
defaults (``blocks=(1, 4, 6, 2)``, ``scale=2``, ``num_features=512``): ``layers.0``–``layers.7``,
``conv_sep`` and the global depthwise head ``features`` (GDC), so an ``arcface_torch`` ``mbf``
checkpoint loads with strict key matching through :func:`captum_fggb.models.load_checkpoint`.
No pretrained weights ship with the package.

Input convention: RGB in ``[0, 1]``, normalised inside as ``(x - 0.5) / 0.5`` (the
``arcface_torch`` training transform).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from ._backbone import FaceBackbone, finish, init_random

__all__ = ["MobileFaceNet", "mobilefacenet"]

_LAYOUT = "insightface recognition/arcface_torch/backbones/mobilefacenet.py (get_mbf, blocks=(1, 4, 6, 2), scale=2)"
_Pair = Tuple[int, int]


class ConvBlock(nn.Module):
    """``layers`` = conv (no bias) → BatchNorm → PReLU."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: _Pair = (1, 1),
        stride: _Pair = (1, 1),
        padding: _Pair = (0, 0),
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.PReLU(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``layers`` to an ``(N, C, H, W)`` feature map."""
        return self.layers(x)


class LinearBlock(nn.Module):
    """``layers`` = conv (no bias) → BatchNorm, no activation."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: _Pair = (1, 1),
        stride: _Pair = (1, 1),
        padding: _Pair = (0, 0),
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False), nn.BatchNorm2d(c_out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``layers`` to an ``(N, C, H, W)`` feature map."""
        return self.layers(x)


class DepthWise(nn.Module):
    """Inverted bottleneck: 1×1 expand to ``groups`` channels → 3×3 depthwise (stride) → 1×1
    linear projection, with an identity shortcut when ``residual``."""

    def __init__(
        self, c_in: int, c_out: int, *, residual: bool = False, stride: _Pair = (2, 2), groups: int = 1
    ) -> None:
        super().__init__()
        self.residual = residual
        self.layers = nn.Sequential(
            ConvBlock(c_in, groups),
            ConvBlock(groups, groups, (3, 3), stride, (1, 1), groups=groups),
            LinearBlock(groups, c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, c_in, H, W)`` → ``(N, c_out, H / stride, W / stride)``."""
        out = self.layers(x)
        return x + out if self.residual else out


class Residual(nn.Module):
    """``num_block`` residual :class:`DepthWise` blocks at stride 1."""

    def __init__(self, c: int, num_block: int, groups: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            *(DepthWise(c, c, residual=True, stride=(1, 1), groups=groups) for _ in range(num_block))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``layers`` to an ``(N, C, H, W)`` feature map."""
        return self.layers(x)


class GDC(nn.Module):
    """Global depthwise convolution head: 7×7 depthwise → flatten → linear → BatchNorm1d."""

    def __init__(self, embedding_size: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            LinearBlock(512, 512, (7, 7), groups=512),
            nn.Flatten(),
            nn.Linear(512, embedding_size, bias=False),
            nn.BatchNorm1d(embedding_size),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``layers`` to an ``(N, C, H, W)`` feature map."""
        return self.layers(x)


class MobileFaceNet(FaceBackbone):
    """MobileFaceNet: ``(N, 3, 112, 112)`` RGB in ``[0, 1]`` → ``(N, num_features)``.

    Args:
        num_features: embedding length (``arcface_torch``'s ``embedding_size``, 512 by default).
        threshold: cosine decision threshold stored as ``verification_threshold`` (or ``None``).
    """

    def __init__(self, *, num_features: int = 512, threshold: Optional[float] = None) -> None:
        super().__init__(
            num_features,
            threshold,
            {
                "arch": "mobilefacenet",
                "layout": _LAYOUT,
                "input": "RGB in [0, 1], normalised inside as (x - 0.5) / 0.5",
            },
        )
        self.layers = nn.Sequential(
            ConvBlock(3, 128, (3, 3), (2, 2), (1, 1)),
            ConvBlock(128, 128, (3, 3), (1, 1), (1, 1), groups=64),
            DepthWise(128, 128, groups=128),
            Residual(128, 4, groups=128),
            DepthWise(128, 256, groups=256),
            Residual(256, 6, groups=256),
            DepthWise(256, 256, groups=512),
            Residual(256, 2, groups=256),
        )
        self.conv_sep = ConvBlock(256, 512)
        self.features = GDC(num_features)
        branch_ends = [m.layers[2].layers[1] for m in self.modules() if isinstance(m, DepthWise) and m.residual]
        init_random(self, branch_ends)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``(N, 3, 112, 112)`` RGB images in ``[0, 1]``; returns ``(N, num_features)``."""
        return self.features(self.conv_sep(self.layers((x - 0.5) / 0.5)))


def mobilefacenet(*, threshold: Optional[float] = None, num_features: int = 512) -> MobileFaceNet:
    """MobileFaceNet (``arcface_torch`` ``mbf``, 2.06 M parameters), randomly initialised, eval
    mode, frozen.

    Load trained weights with ``load_checkpoint(path, arch="mobilefacenet")``.

    Args:
        threshold: cosine decision threshold stored as ``verification_threshold``
            (default ``None``: pass one to :class:`~captum_fggb.FaceVerificationPair`).
        num_features: embedding length (512 in ``arcface_torch``).

    Returns:
        :class:`MobileFaceNet`: ``(N, 3, 112, 112)`` RGB in ``[0, 1]`` → ``(N, num_features)``.

    Raises:
        InvalidInputError: ``threshold`` outside ``[-1, 1]``.
    """
    return finish(MobileFaceNet(num_features=num_features, threshold=threshold))
