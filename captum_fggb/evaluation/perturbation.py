"""Pixel ranking and the Deletion/Insertion image stacks, batched over pairs and steps."""

from __future__ import annotations

from typing import Sequence

import torch
from torchvision.transforms.functional import gaussian_blur

from ..errors import InvalidInputError
from .protocol import REPLACEMENTS, blur_kernel_size

__all__ = ["pixel_ranks", "replacement_canvas", "top_k_masks", "deletion_stack", "insertion_stack"]


def pixel_ranks(maps: torch.Tensor) -> torch.Tensor:
    """Rank of every pixel in decreasing map order, ties in raster order.

    Args:
        maps: ``(N, C, H, W)`` attribution maps (reduced by the mean over ``C``; the package's
            maps hold the same value in every channel) or ``(N, H, W)``.

    Returns:
        ``(N, H * W)`` int64: ``ranks[n, i] = r`` means pixel ``i`` (raster index ``y * W + x``)
        is the ``r``-th most important (0 = first perturbed). Equal values keep raster order
        (stable sort), so a constant map ranks the pixels row by row from the top left.

    Raises:
        InvalidInputError: wrong rank or non-finite values.
    """
    if maps.dim() == 4:
        maps = maps.mean(dim=1)
    if maps.dim() != 3:
        raise InvalidInputError(f"maps must be (N, C, H, W) or (N, H, W), got shape {tuple(maps.shape)}")
    flat = maps.detach().flatten(1).float()
    if not bool(torch.isfinite(flat).all()):
        bad = torch.nonzero(~torch.isfinite(flat).all(dim=1)).flatten().tolist()
        raise InvalidInputError(f"maps hold NaN or infinite values (rows {bad}); cannot rank pixels")
    order = torch.argsort(flat, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    positions = torch.arange(flat.shape[1], device=flat.device).expand_as(order)
    return ranks.scatter_(1, order, positions)


def replacement_canvas(images: torch.Tensor, replacement: str, blur_sigma: float = 8.0) -> torch.Tensor:
    """What deleted pixels become, and the insertion start image.

    Args:
        images: ``(N, 3, H, W)`` in ``[0, 1]``.
        replacement: ``"black"`` (zeros), ``"mean"`` (each image's mean colour, per channel) or
            ``"blur"`` (Gaussian blur with ``blur_sigma`` pixels, kernel
            ``2 * ceil(3 * blur_sigma) + 1`` pixels, reflect padding).
        blur_sigma: standard deviation in pixels for ``"blur"``.

    Returns:
        ``(N, 3, H, W)`` canvas, a new tensor.
    """
    if replacement == "black":
        return torch.zeros_like(images)
    if replacement == "mean":
        return images.mean(dim=(2, 3), keepdim=True).expand_as(images).clone()
    if replacement == "blur":
        size = blur_kernel_size(blur_sigma)
        return gaussian_blur(images, [size, size], [blur_sigma, blur_sigma])
    raise InvalidInputError(f"replacement={replacement!r} is not one of {', '.join(REPLACEMENTS)}")


def top_k_masks(ranks: torch.Tensor, counts: Sequence[int], size: Sequence[int]) -> torch.Tensor:
    """Boolean masks of the top-``k`` pixels for every step.

    Args:
        ranks: ``(N, H * W)`` from :func:`pixel_ranks`.
        counts: pixels selected at each of the ``S`` steps.
        size: ``(H, W)``.

    Returns:
        ``(N, S, 1, H, W)`` bool, ``True`` for the selected (most important) pixels.
    """
    k = torch.as_tensor(list(counts), device=ranks.device).view(1, -1, 1)
    masks = ranks.unsqueeze(1) < k  # (N, S, H*W)
    return masks.view(ranks.shape[0], len(counts), 1, int(size[0]), int(size[1]))


def deletion_stack(images: torch.Tensor, canvas: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``(N, S, 3, H, W)``: each image with its selected pixels replaced by the canvas."""
    return torch.where(masks, canvas.unsqueeze(1), images.unsqueeze(1))


def insertion_stack(images: torch.Tensor, canvas: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``(N, S, 3, H, W)``: the canvas with each image's selected pixels restored."""
    return torch.where(masks, images.unsqueeze(1), canvas.unsqueeze(1))
