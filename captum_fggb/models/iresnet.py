"""ArcFace IResNet (r18, r34, r50, r100) in the layout of insightface's ``arcface_torch``.

The module tree, parameter names and shapes are those of
``recognition/arcface_torch/backbones/iresnet.py`` in ``deepinsight/insightface`` (``conv1``,
``bn1``, ``prelu``, ``layer1``–``layer4`` of ``IBasicBlock``, ``bn2``, ``dropout``, ``fc``,
``features``), so a ``backbone.pth`` trained with ``arcface_torch`` loads with strict key
matching through :func:`captum_fggb.models.load_checkpoint`. No pretrained weights ship with the
package: the builders return randomly initialised networks
(:func:`~captum_fggb.models._backbone.init_random`).

Input convention: ``arcface_torch`` trains on RGB images normalised with mean 0.5 and std 0.5;
the module takes RGB in ``[0, 1]`` and applies ``(x - 0.5) / 0.5`` itself.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from .._checks import check_model_input
from ._backbone import FaceBackbone, finish, init_random

__all__ = ["IBasicBlock", "IResNet", "iresnet18", "iresnet34", "iresnet50", "iresnet100"]

_LAYERS = {
    "iresnet18": (2, 2, 2, 2),
    "iresnet34": (3, 4, 6, 3),
    "iresnet50": (3, 4, 14, 3),
    "iresnet100": (3, 13, 30, 3),
}
_LAYOUT = "insightface recognition/arcface_torch/backbones/iresnet.py"


class IBasicBlock(nn.Module):
    """Pre-activation residual block: BN → conv3×3 → BN → PReLU → conv3×3 (stride) → BN, plus a
    1×1-conv + BN shortcut (``downsample``) when the shape changes."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-5)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-5)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-5)
        self.downsample: Optional[nn.Sequential] = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes, eps=1e-5)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, inplanes, H, W)`` → ``(N, planes, H / stride, W / stride)``."""
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity  # out of place: safe under Captum's backward hooks


class IResNet(FaceBackbone):
    """ArcFace IResNet: ``(N, 3, 112, 112)`` RGB in ``[0, 1]`` → ``(N, num_features)``.

    Args:
        layers: number of ``IBasicBlock`` in each of the four stages.
        num_features: embedding length (``arcface_torch``'s ``embedding_size``; 512 in every
            published model).
        threshold: cosine decision threshold stored as ``verification_threshold`` (or ``None``).
        arch: name recorded in ``meta``.
    """

    def __init__(
        self,
        layers: Sequence[int],
        *,
        num_features: int = 512,
        threshold: Optional[float] = None,
        arch: str = "iresnet",
    ) -> None:
        super().__init__(
            num_features,
            threshold,
            {"arch": arch, "layout": _LAYOUT, "input": "RGB in [0, 1], normalised inside as (x - 0.5) / 0.5"},
        )
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        inplanes = 64
        for index, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
            stage = [IBasicBlock(inplanes, planes, stride=2)] + [IBasicBlock(planes, planes) for _ in range(blocks - 1)]
            self.add_module(f"layer{index}", nn.Sequential(*stage))
            inplanes = planes
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.dropout = nn.Dropout(p=0.0)
        self.fc = nn.Linear(512 * 7 * 7, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-5)
        init_random(self, [m.bn3 for m in self.modules() if isinstance(m, IBasicBlock)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``(N, 3, 112, 112)`` RGB images in ``[0, 1]``; returns ``(N, num_features)``.

        Raises:
            TypeError, InvalidInputError: ``x`` is not such a batch (see
                :func:`captum_fggb._checks.check_model_input`).
        """
        check_model_input(self, x)
        x = (x - 0.5) / 0.5
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))


def _build(arch: str, threshold: Optional[float], num_features: int) -> IResNet:
    return finish(IResNet(_LAYERS[arch], num_features=num_features, threshold=threshold, arch=arch))


def iresnet18(*, threshold: Optional[float] = None, num_features: int = 512) -> IResNet:
    """IResNet-18 (ArcFace ``r18``, 24.0 M parameters), randomly initialised, eval mode, frozen.

    Load trained weights with ``load_checkpoint(path, arch="iresnet18")``.

    Args:
        threshold: cosine decision threshold stored as ``verification_threshold``
            (default ``None``: pass one to :class:`~captum_fggb.FaceVerificationPair`).
        num_features: embedding length (512 in ``arcface_torch``).

    Returns:
        :class:`IResNet`: ``(N, 3, 112, 112)`` RGB in ``[0, 1]`` → ``(N, num_features)``.

    Raises:
        InvalidInputError: ``threshold`` outside ``[-1, 1]``.
    """
    return _build("iresnet18", threshold, num_features)


def iresnet34(*, threshold: Optional[float] = None, num_features: int = 512) -> IResNet:
    """IResNet-34 (ArcFace ``r34``, 34.1 M parameters); see :func:`iresnet18` for the arguments."""
    return _build("iresnet34", threshold, num_features)


def iresnet50(*, threshold: Optional[float] = None, num_features: int = 512) -> IResNet:
    """IResNet-50 (ArcFace ``r50``, 43.6 M parameters); see :func:`iresnet18` for the arguments."""
    return _build("iresnet50", threshold, num_features)


def iresnet100(*, threshold: Optional[float] = None, num_features: int = 512) -> IResNet:
    """IResNet-100 (ArcFace ``r100``, 65.2 M parameters); see :func:`iresnet18` for the arguments."""
    return _build("iresnet100", threshold, num_features)
