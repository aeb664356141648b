"""Drawing helpers shared by the pair and comparison figures (one row = one explained pair)."""

from __future__ import annotations

from typing import List, Sequence

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import SubFigure

from ..errors import InvalidInputError

__all__ = ["SIMILARITY_CMAP", "DISSIMILARITY_CMAP", "ROW_TITLES", "to_hwc", "draw_pair_row"]

SIMILARITY_CMAP = "Greens"
DISSIMILARITY_CMAP = "Reds"
#: Panel titles of a row, left to right.
ROW_TITLES = ("probe", "similarity (probe)", "dissimilarity (probe)", "similarity (reference)",
              "dissimilarity (reference)", "reference")


def to_hwc(tensor: torch.Tensor) -> np.ndarray:
    """A ``(3, H, W)`` image or map (or ``(1, 3, H, W)``) as a numpy ``(H, W, 3)`` float array,
    the layout :func:`captum.attr.visualization.visualize_image_attr` expects."""
    t = tensor.detach().cpu()
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3:
        raise InvalidInputError(f"expected a (3, H, W) tensor, got shape {tuple(tensor.shape)}")
    return t.permute(1, 2, 0).float().numpy()


def _gray(t: torch.Tensor) -> np.ndarray:
    return to_hwc(t).clip(0, 1).mean(axis=2)


def _plane(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu().float()
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    return (t.mean(0) if t.dim() == 3 else t).numpy()


def _overlay(ax, face: np.ndarray, heat: np.ndarray, cmap: str, norm: Normalize) -> None:
    ax.imshow(face, cmap="gray", vmin=0, vmax=1)
    rgba = colormaps[cmap](norm(heat))
    rgba[..., 3] = 0.85 * np.clip(norm(heat), 0, 1)
    ax.imshow(rgba)


def draw_pair_row(
    subfig: SubFigure,
    probe: torch.Tensor,
    reference: torch.Tensor,
    signed_probe: torch.Tensor,
    signed_reference: torch.Tensor,
    *,
    percentile: float = 99.5,
    titles: Sequence[str] = ROW_TITLES,
) -> float:
    """Draw probe | S+ probe | S- probe | S+ reference | S- reference | reference into ``subfig``.

    The four maps share one colour scale ``[0, vmax]``, ``vmax`` the ``percentile``-th
    percentile of their values; similarity is green, dissimilarity red, over the face in gray.

    Args:
        subfig: an empty matplotlib subfigure.
        probe, reference: ``(3, H, W)`` (or ``(1, 3, H, W)``) RGB in ``[0, 1]``.
        signed_probe, signed_reference: signed maps, ``(3, H, W)``, ``(1, 3, H, W)`` or ``(H, W)``.
        percentile: percentile of the row's map values mapped to full colour.
        titles: the six panel titles.

    Returns:
        ``vmax``, the top of the row's colour scale (0 when every map is 0).
    """
    sp, sr = _plane(signed_probe), _plane(signed_reference)
    planes: List[np.ndarray] = [np.clip(sp, 0, None), np.clip(-sp, 0, None),
                                np.clip(sr, 0, None), np.clip(-sr, 0, None)]
    values = np.concatenate([p.ravel() for p in planes])
    vmax = float(np.percentile(values, percentile)) if values.size else 0.0
    norm = Normalize(0.0, vmax if vmax > 0 else 1.0)
    axes = subfig.subplots(1, len(ROW_TITLES))
    face_p, face_r = _gray(probe), _gray(reference)
    axes[0].imshow(to_hwc(probe).clip(0, 1))
    axes[-1].imshow(to_hwc(reference).clip(0, 1))
    for ax, face, plane, cmap in zip(axes[1:5], [face_p, face_p, face_r, face_r], planes,
                                     [SIMILARITY_CMAP, DISSIMILARITY_CMAP] * 2):
        _overlay(ax, face, plane, cmap, norm)
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    return vmax
