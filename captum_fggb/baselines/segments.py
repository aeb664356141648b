"""Feature masks (superpixels or a grid) for LIME and KernelShap on face images."""

from __future__ import annotations

import math
from typing import Union

import numpy as np
import torch

from ..errors import InvalidInputError, MissingDependencyError
from ._base import check_positive_int

__all__ = ["slic_segments", "grid_segments", "feature_masks"]


def _contiguous(labels: torch.Tensor) -> torch.Tensor:
    return torch.unique(labels, return_inverse=True)[1].view_as(labels)


def slic_segments(images: torch.Tensor, n_segments: int = 64, compactness: float = 10.0) -> torch.Tensor:
    """SLIC superpixels of each image (``skimage.segmentation.slic``).

    Args:
        images: ``(N, 3, H, W)`` RGB in ``[0, 1]``.
        n_segments: approximate number of superpixels per image.
        compactness: SLIC's colour/space trade-off (scikit-image's default, 10).

    Returns:
        ``(N, 1, H, W)`` int64 labels ``0..K_n-1`` per image.

    Raises:
        MissingDependencyError: scikit-image is not installed.
    """
    try:
        from skimage.segmentation import slic
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "superpixel feature masks need scikit-image: pip install 'captum-fggb[baselines]' "
            "(or pass feature_mask='grid')"
        ) from exc
    out = []
    for image in images.detach().cpu().clamp(0, 1):
        labels = slic(image.permute(1, 2, 0).numpy().astype(np.float64), n_segments=n_segments,
                      compactness=compactness, start_label=0, channel_axis=-1)
        out.append(_contiguous(torch.from_numpy(np.asarray(labels, dtype=np.int64))))
    return torch.stack(out).unsqueeze(1).to(images.device)


def grid_segments(images: torch.Tensor, n_segments: int = 64) -> torch.Tensor:
    """A regular grid of ``round(sqrt(n_segments))`` cells per side, the same for every image.

    Returns:
        ``(N, 1, H, W)`` int64 cell labels (row-major).
    """
    n, _, height, width = images.shape
    cells = max(1, round(math.sqrt(n_segments)))
    rows = torch.arange(height, device=images.device) * cells // height
    cols = torch.arange(width, device=images.device) * cells // width
    labels = rows[:, None] * cells + cols[None, :]
    return labels.expand(n, 1, height, width).clone()


def feature_masks(spec: Union[str, torch.Tensor], images: torch.Tensor, n_segments: int) -> torch.Tensor:
    """Feature masks for a batch: ``"slic"``, ``"grid"`` or a user label tensor.

    Args:
        spec: ``"slic"``, ``"grid"``, or an integer tensor of labels ``(H, W)``,
            ``(1 or N, 1, H, W)``.
        images: ``(N, 3, H, W)`` explained images.
        n_segments: superpixels (or grid cells) per image.

    Returns:
        ``(N, 1, H, W)`` int64 labels numbered ``0..K_n-1`` in each image.
    """
    n, _, height, width = images.shape
    check_positive_int(n_segments, "n_segments")
    if isinstance(spec, str):
        if spec == "slic":
            return slic_segments(images, n_segments)
        if spec == "grid":
            return grid_segments(images, n_segments)
        raise InvalidInputError(f"feature_mask={spec!r} is not 'slic', 'grid' or a label tensor")
    if not isinstance(spec, torch.Tensor) or spec.is_floating_point():
        raise InvalidInputError("feature_mask must be 'slic', 'grid' or an integer label tensor (H, W) or (N, 1, H, W)")
    labels = spec.view(1, 1, *spec.shape) if spec.dim() == 2 else spec
    shape_ok = labels.dim() == 4 and labels.shape[1] == 1 and labels.shape[0] in (1, n)
    if not shape_ok or tuple(labels.shape[-2:]) != (height, width):
        raise InvalidInputError(
            f"feature_mask has shape {tuple(spec.shape)}; expected ({height}, {width}) or "
            f"(1 or {n}, 1, {height}, {width})"
        )
    labels = labels.to(device=images.device, dtype=torch.int64).expand(n, 1, height, width)
    return torch.stack([_contiguous(m) for m in labels])
