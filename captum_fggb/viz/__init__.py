"""Figures and summaries for pair explanations.

Captum's :func:`captum.attr.visualization.visualize_image_attr` normalises every map on its own
scale; verification explanations need the similarity and dissimilarity maps of a pair on one
shared scale, which :func:`pair_figure` draws. :func:`to_hwc` converts tensors to the numpy HWC
layout Captum's visualisation expects. :func:`region_summary` says which face regions (eyes,
nose, mouth, ...; see :func:`face_regions`) carry the similarity and dissimilarity mass, and
:func:`region_bar_chart` / :func:`draw_regions` draw it. :func:`compare` draws one pair explained
by several methods, a row per method.
"""

from __future__ import annotations

from .compare import compare
from .region_geometry import REGION_NAMES, TEMPLATE_LANDMARKS, FaceRegions, face_regions
from .pair import PairRow, pair_figure, to_hwc
from .region_plots import draw_regions, region_bar_chart
from .regions import RegionSummary, region_summary

__all__ = [
    "PairRow",
    "pair_figure",
    "to_hwc",
    "REGION_NAMES",
    "TEMPLATE_LANDMARKS",
    "FaceRegions",
    "face_regions",
    "RegionSummary",
    "region_summary",
    "region_bar_chart",
    "draw_regions",
    "compare",
]
