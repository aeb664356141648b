"""Probe | S+ | S- | ... | reference figures with one colour scale per row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..errors import InvalidInputError

__all__ = ["PairRow", "pair_figure", "to_hwc"]

SIMILARITY_CMAP = "Greens"
DISSIMILARITY_CMAP = "Reds"


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
    return (t.mean(0) if t.dim() == 3 else t).numpy()


@dataclass
class PairRow:
    """One row of a pair figure: both images and their signed maps.

    Attributes:
        probe: ``(3, H, W)`` RGB in ``[0, 1]``.
        reference: ``(3, H, W)`` RGB in ``[0, 1]``.
        signed_probe: ``(3, H, W)`` or ``(H, W)`` signed map of the probe (+ supports Accept).
        signed_reference: signed map of the reference, same layout.
        score: cosine score of the pair.
        threshold: decision threshold.
        label: text put before the score in the row title (e.g. ``"macron_1 vs macron_2"``).
    """

    probe: torch.Tensor
    reference: torch.Tensor
    signed_probe: torch.Tensor
    signed_reference: torch.Tensor
    score: float
    threshold: float
    label: str = ""

    @property
    def decision(self) -> str:
        """``"Accept"`` when ``score >= threshold``, else ``"Reject"``."""
        return "Accept" if self.score >= self.threshold else "Reject"


def _overlay(ax, face: np.ndarray, heat: np.ndarray, cmap: str, norm: Normalize) -> None:
    ax.imshow(face, cmap="gray", vmin=0, vmax=1)
    rgba = colormaps[cmap](norm(heat))
    rgba[..., 3] = 0.85 * np.clip(norm(heat), 0, 1)
    ax.imshow(rgba)


def pair_figure(
    rows: Sequence[PairRow],
    output: Optional[Union[str, Path]] = None,
    *,
    percentile: float = 99.5,
    dpi: int = 120,
) -> Figure:
    """Draw one row per pair: probe | S+ probe | S- probe | S+ reference | S- reference | reference.

    The four maps of a row share one colour scale, ``[0, vmax]`` with ``vmax`` the
    ``percentile``-th percentile of all four maps' values (so a strong similarity map next to a
    weak dissimilarity map looks weak, as it should). Similarity is green, dissimilarity red, over
    the face in gray. The row title carries the score, threshold and decision.

    Args:
        rows: the pairs to draw.
        output: write the figure to this path (PNG by extension) when given.
        percentile: percentile of the row's map values mapped to full colour.
        dpi: resolution of the saved file.

    Returns:
        The matplotlib ``Figure`` (no pyplot state is used, safe in headless runs).
    """
    if not rows:
        raise InvalidInputError("pair_figure needs at least one row")
    titles = ["probe", "similarity (probe)", "dissimilarity (probe)", "similarity (reference)",
              "dissimilarity (reference)", "reference"]
    fig = Figure(figsize=(2.1 * len(titles), 2.45 * len(rows)), layout="constrained")
    subfigs = fig.subfigures(len(rows), 1, squeeze=False)[:, 0]
    for subfig, row in zip(subfigs, rows):
        sp, sr = _plane(row.signed_probe), _plane(row.signed_reference)
        planes: List[np.ndarray] = [np.clip(sp, 0, None), np.clip(-sp, 0, None),
                                    np.clip(sr, 0, None), np.clip(-sr, 0, None)]
        values = np.concatenate([p.ravel() for p in planes])
        vmax = float(np.percentile(values, percentile)) if values.size else 0.0
        norm = Normalize(0.0, vmax if vmax > 0 else 1.0)
        axes = subfig.subplots(1, len(titles))
        face_p, face_r = _gray(row.probe), _gray(row.reference)
        axes[0].imshow(to_hwc(row.probe).clip(0, 1))
        axes[-1].imshow(to_hwc(row.reference).clip(0, 1))
        for ax, face, plane, cmap in zip(axes[1:5], [face_p, face_p, face_r, face_r], planes,
                                         [SIMILARITY_CMAP, DISSIMILARITY_CMAP] * 2):
            _overlay(ax, face, plane, cmap, norm)
        for ax, title in zip(axes, titles):
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
        prefix = f"{row.label}: " if row.label else ""
        subfig.suptitle(
            f"{prefix}cosine {row.score:.3f} vs threshold {row.threshold:.3f} → {row.decision}"
            f"   (shared map scale 0–{vmax:.3g})",
            fontsize=10,
        )
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output, dpi=dpi)
    return fig
