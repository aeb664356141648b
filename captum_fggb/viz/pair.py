"""Probe | S+ | S- | ... | reference figures with one colour scale per row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
from matplotlib.figure import Figure

from ..errors import InvalidInputError
from ._draw import DISSIMILARITY_CMAP, ROW_TITLES, SIMILARITY_CMAP, draw_pair_row, to_hwc  # noqa: F401 (re-exported)

__all__ = ["PairRow", "pair_figure", "to_hwc"]


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
    fig = Figure(figsize=(2.1 * len(ROW_TITLES), 2.45 * len(rows)), layout="constrained")
    subfigs = fig.subfigures(len(rows), 1, squeeze=False)[:, 0]
    for subfig, row in zip(subfigs, rows):
        vmax = draw_pair_row(subfig, row.probe, row.reference, row.signed_probe, row.signed_reference,
                             percentile=percentile)
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
