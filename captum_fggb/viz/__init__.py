"""Figures for pair explanations.

Captum's :func:`captum.attr.visualization.visualize_image_attr` normalises every map on its own
scale; verification explanations need the similarity and dissimilarity maps of a pair on one
shared scale, which :func:`pair_figure` draws. :func:`to_hwc` converts tensors to the numpy HWC
layout Captum's visualisation expects. :func:`compare` draws one pair explained by several
methods, a row per method.
"""

from __future__ import annotations

from .compare import compare
from .pair import PairRow, pair_figure, to_hwc

__all__ = ["PairRow", "pair_figure", "to_hwc", "compare"]
