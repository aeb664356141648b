"""Figures for the region summary: a bar chart of the shares and the region masks over a face."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import cv2
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..errors import InvalidInputError
from .region_geometry import FaceRegions, face_regions
from .pair import DISSIMILARITY_CMAP, SIMILARITY_CMAP
from .regions import KINDS, RegionSummary

__all__ = ["region_bar_chart", "draw_regions"]

_COLOURS = {"similarity": colormaps[SIMILARITY_CMAP](0.7), "dissimilarity": colormaps[DISSIMILARITY_CMAP](0.7)}


def _target(ax: Optional[Axes], figsize: tuple) -> Axes:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
        return ax
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _save(fig: Figure, output: Optional[Union[str, Path]], dpi: int) -> None:
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output, dpi=dpi)


def region_bar_chart(
    summary: RegionSummary,
    *,
    kinds: Sequence[str] = KINDS,
    show_area: bool = True,
    ax: Optional[Axes] = None,
    title: Optional[str] = None,
    output: Optional[Union[str, Path]] = None,
    dpi: int = 120,
) -> Figure:
    """Horizontal bars: each region's share (%) of the similarity (green) and dissimilarity (red)
    mass. The legend gives each kind's part of the map's total mass, so that the shares of a
    negligible mass are not mistaken for important ones.

    Args:
        summary: the result of :func:`~captum_fggb.viz.region_summary`.
        kinds: which masses to draw, ``"similarity"`` and/or ``"dissimilarity"``.
        show_area: mark each region's share of the pixels with a black tick (the share a
            uniform map would give), so that large regions are not mistaken for important ones.
        ax: draw into this matplotlib ``Axes``; default: a new figure.
        title: axes title; default: the summary sentence.
        output: also write the figure to this path (PNG by extension).
        dpi: resolution of the saved file.

    Returns:
        The matplotlib ``Figure`` (no pyplot state is used).
    """
    if not isinstance(summary, RegionSummary):
        raise TypeError(f"summary must be a RegionSummary (from region_summary), got {type(summary).__name__}")
    kinds = tuple(kinds)
    if not kinds or any(k not in KINDS for k in kinds):
        raise InvalidInputError(f"kinds must be a non-empty subset of {KINDS}, got {kinds!r}")
    ax = _target(ax, (6.0, 0.45 * len(summary.regions) + 1.2))
    rows = np.arange(len(summary.regions))
    height = 0.8 / len(kinds)
    total = summary.similarity_mass + summary.dissimilarity_mass
    for i, kind in enumerate(kinds):
        shares = [100 * summary.shares(kind)[name] for name in summary.regions]
        offset = (i - (len(kinds) - 1) / 2) * height
        mass = summary.similarity_mass if kind == "similarity" else summary.dissimilarity_mass
        # how much of the map this kind is: 100% of a negligible mass must not look important
        label = f"{kind} ({100 * mass / total:.3g}% of the mass)" if total > 0 else f"{kind} (no mass)"
        ax.barh(rows + offset, shares, height=height, color=_COLOURS[kind], label=label)
    if show_area:
        area = [100 * summary.area[name] for name in summary.regions]
        ax.scatter(area, rows, marker="|", s=300, color="black", linewidths=1.5, label="area share", zorder=3)
    ax.set_yticks(rows, labels=[name if name != "other" else "outside face" for name in summary.regions])
    ax.invert_yaxis()
    ax.set_xlabel("share (%)")
    ax.set_xlim(0, 100)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 if len(summary.regions) > 4 else -0.3),
              ncols=len(kinds) + int(show_area), fontsize=8, frameon=False)
    ax.set_title(summary.sentence() if title is None else title, fontsize=8, wrap=True)
    fig = ax.figure
    _save(fig, output, dpi)
    return fig


def _rgb(image: object) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu().float()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3 or t.shape[0] != 3:
            raise InvalidInputError(
                f"image must be a (3, H, W) or (1, 3, H, W) tensor, got {tuple(image.shape)}"
            )
        return t.permute(1, 2, 0).clamp(0, 1).numpy()
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3:
        array = image.astype(np.float64)
        return np.clip(array / 255.0 if image.dtype == np.uint8 else array, 0, 1)
    raise InvalidInputError(
        "image must be a (3, H, W) tensor in [0, 1] or an (H, W, 3) numpy array (float in [0, 1] or uint8)"
    )


def draw_regions(
    image: object,
    regions: Optional[FaceRegions] = None,
    *,
    alpha: float = 0.45,
    show_landmarks: bool = True,
    legend: bool = True,
    ax: Optional[Axes] = None,
    output: Optional[Union[str, Path]] = None,
    dpi: int = 120,
) -> Figure:
    """Draw the region masks over a face: one colour per region, outlines and the landmarks.

    Args:
        image: the face crop, a ``(3, H, W)`` / ``(1, 3, H, W)`` tensor in ``[0, 1]`` or an
            ``(H, W, 3)`` numpy array.
        regions: the regions to draw; default: :func:`~captum_fggb.viz.face_regions` of the image
            size with the template landmarks.
        alpha: opacity of the colour fill.
        show_landmarks: mark the 5 landmarks.
        legend: add a legend naming the regions.
        ax: draw into this matplotlib ``Axes``; default: a new figure.
        output: also write the figure to this path (PNG by extension).
        dpi: resolution of the saved file.

    Returns:
        The matplotlib ``Figure`` (no pyplot state is used).
    """
    rgb = _rgb(image)
    if regions is None:
        regions = face_regions(rgb.shape[:2])
    if regions.size != rgb.shape[:2]:
        raise InvalidInputError(
            f"the image is {rgb.shape[0]}x{rgb.shape[1]} but the regions are "
            f"{regions.size[0]}x{regions.size[1]}; pass the regions of this crop"
        )
    if not 0 <= alpha <= 1:
        raise InvalidInputError(f"alpha must be in [0, 1], got {alpha!r}")
    ax = _target(ax, (4.2 if legend else 3.0, 3.0))
    palette = colormaps["tab10"]
    fill = np.zeros(rgb.shape[:2] + (4,))
    handles = []
    for index, (name, mask) in enumerate(regions.masks().items()):
        colour = palette(index) if name != "other" else (0.5, 0.5, 0.5, 1.0)
        fill[mask] = (*colour[:3], alpha if name != "other" else 0.0)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        for contour in contours:
            xy = np.vstack([contour[:, 0], contour[:1, 0]])
            ax.plot(xy[:, 0], xy[:, 1], color=colour, linewidth=0.8)
        handles.append(Patch(color=colour, label=name if name != "other" else "outside face"))
    ax.imshow(rgb)
    ax.imshow(fill)
    if show_landmarks:
        ax.scatter(regions.landmarks[:, 0], regions.landmarks[:, 1], s=12, c="white", edgecolors="black",
                   linewidths=0.6, zorder=3)
    if legend:
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7, frameon=False)
    ax.set_axis_off()
    fig = ax.figure
    _save(fig, output, dpi)
    return fig
