"""AdaFace IR-18/50/101 in the layout of the official AdaFace repository (``mk-minchul/AdaFace``).

The module tree, parameter names and shapes are those of ``net.py``'s ``Backbone``
(``input_layer``, ``body.N.shortcut_layer`` / ``body.N.res_layer``, ``output_layer``), as built by
``net.build_model('ir_18' | 'ir_50' | 'ir_101')``. The published checkpoints are PyTorch
Lightning ``.ckpt`` files whose ``state_dict`` prefixes the backbone with ``model.`` (and also
holds the AdaFace ``head.`` classifier); :func:`captum_fggb.models.load_checkpoint` reads them
exactly like the official ``inference.py`` does. No pretrained weights ship with the package.

Input convention: AdaFace was trained on **BGR** images normalised as ``(x - 0.5) / 0.5``. This
module takes **RGB** in ``[0, 1]`` like every model of the package, and flips the channels to BGR
and normalises internally.

Output: the official ``forward`` returns ``(embedding, norm)`` with the L2-normalised embedding
and the norm of the raw feature (AdaFace's image-quality proxy). ``forward`` here returns only
the ``(N, 512)`` L2-normalised embedding, so the module plugs into
:class:`~captum_fggb.FaceVerificationPair`; :meth:`AdaFaceIR.embed_with_norm` returns both.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_model_input
from ._backbone import FaceBackbone, finish, init_random

__all__ = ["BasicBlockIR", "AdaFaceIR", "adaface_ir18", "adaface_ir50", "adaface_ir101"]

# blocks per stage of net.get_blocks(num_layers); "ir_101" builds the 100-layer configuration.
_UNITS = {"adaface_ir18": (2, 2, 2, 2), "adaface_ir50": (3, 4, 14, 3), "adaface_ir101": (3, 13, 30, 3)}
_LAYOUT = "mk-minchul/AdaFace net.py Backbone (build_model('ir_18' | 'ir_50' | 'ir_101'))"


class BasicBlockIR(nn.Module):
    """AdaFace's ``BasicBlockIR``: ``res_layer`` = BN → conv3×3 → BN → PReLU → conv3×3 (stride)
    → BN; ``shortcut_layer`` = ``MaxPool2d(1, stride)`` (subsampling) when the width is kept,
    else 1×1 conv (stride) + BN."""

    def __init__(self, in_channel: int, depth: int, stride: int) -> None:
        super().__init__()
        self.shortcut_layer: nn.Module
        if in_channel == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channel, depth, 1, stride, bias=False), nn.BatchNorm2d(depth)
            )
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channel),
            nn.Conv2d(in_channel, depth, 3, 1, 1, bias=False),
            nn.BatchNorm2d(depth),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channel, H, W)`` → ``(N, depth, H / stride, W / stride)``."""
        return self.res_layer(x) + self.shortcut_layer(x)


class AdaFaceIR(FaceBackbone):
    """AdaFace IR backbone: ``(N, 3, 112, 112)`` RGB in ``[0, 1]`` → ``(N, 512)`` unit-norm
    embeddings (channels flipped to BGR and normalised inside).

    Args:
        units: number of ``BasicBlockIR`` in each of the four stages.
        threshold: cosine decision threshold stored as ``verification_threshold`` (or ``None``).
        arch: name recorded in ``meta``.
    """

    def __init__(
        self, units: Tuple[int, int, int, int], *, threshold: Optional[float] = None, arch: str = "adaface_ir"
    ) -> None:
        super().__init__(
            512,
            threshold,
            {
                "arch": arch,
                "layout": _LAYOUT,
                "input": "RGB in [0, 1]; flipped to BGR and normalised inside as (x - 0.5) / 0.5",
                "output": "L2-normalised embedding (the official forward also returns the feature norm)",
            },
        )
        self.input_layer = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))
        # output_layer is registered before body, as upstream: same state-dict order
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(512),
            nn.Dropout(0.4),
            nn.Flatten(),
            nn.Linear(512 * 7 * 7, 512),
            nn.BatchNorm1d(512, affine=False),
        )
        blocks = []
        in_channel = 64
        for depth, count in zip((64, 128, 256, 512), units):
            blocks.append(BasicBlockIR(in_channel, depth, 2))
            blocks.extend(BasicBlockIR(depth, depth, 1) for _ in range(count - 1))
            in_channel = depth
        self.body = nn.Sequential(*blocks)
        init_random(self, [block.res_layer[5] for block in self.body])

    def embed_with_norm(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The official output: ``(embedding, norm)`` for ``(N, 3, 112, 112)`` RGB in ``[0, 1]``.

        Returns:
            ``(N, 512)`` L2-normalised embeddings and the ``(N, 1)`` norms of the raw features
            (AdaFace's feature-norm image-quality proxy).

        Raises:
            TypeError, InvalidInputError: ``x`` is not such a batch (see
                :func:`captum_fggb._checks.check_model_input`).
        """
        check_model_input(self, x)
        x = (x.flip(1) - 0.5) / 0.5  # RGB -> BGR, as AdaFace was trained (cv2 channel order)
        feature = self.output_layer(self.body(self.input_layer(x)))
        norm = torch.linalg.vector_norm(feature, dim=1, keepdim=True)
        return F.normalize(feature, dim=1), norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``(N, 3, 112, 112)`` RGB images in ``[0, 1]``; returns ``(N, 512)`` unit vectors."""
        return self.embed_with_norm(x)[0]


def _build(arch: str, threshold: Optional[float]) -> AdaFaceIR:
    return finish(AdaFaceIR(_UNITS[arch], threshold=threshold, arch=arch))


def adaface_ir18(*, threshold: Optional[float] = None) -> AdaFaceIR:
    """AdaFace IR-18 (24.0 M parameters), randomly initialised, eval mode, frozen.

    Load a published checkpoint with ``load_checkpoint("adaface_ir18_webface4m.ckpt",
    arch="adaface_ir18")``.

    Args:
        threshold: cosine decision threshold stored as ``verification_threshold``
            (default ``None``: pass one to :class:`~captum_fggb.FaceVerificationPair`).

    Returns:
        :class:`AdaFaceIR`: ``(N, 3, 112, 112)`` RGB in ``[0, 1]`` → ``(N, 512)``.

    Raises:
        InvalidInputError: ``threshold`` outside ``[-1, 1]``.
    """
    return _build("adaface_ir18", threshold)


def adaface_ir50(*, threshold: Optional[float] = None) -> AdaFaceIR:
    """AdaFace IR-50 (43.6 M parameters); see :func:`adaface_ir18` for the arguments."""
    return _build("adaface_ir50", threshold)


def adaface_ir101(*, threshold: Optional[float] = None) -> AdaFaceIR:
    """AdaFace IR-101 (``net.build_model('ir_101')``, 100-layer configuration, 65.2 M
    parameters); see :func:`adaface_ir18` for the arguments."""
    return _build("adaface_ir101", threshold)
