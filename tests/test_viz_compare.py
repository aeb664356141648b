"""The method-comparison figure and the shared row drawing."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from captum_fggb import XSSAB, viz
from captum_fggb.errors import InvalidInputError
from captum_fggb.viz import PairRow, compare, pair_figure
from captum_fggb.viz._draw import ROW_TITLES, draw_pair_row

matplotlib.use("Agg")


def test_compare_draws_a_row_per_method(tiny_pair, tmp_path):
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    output = tmp_path / "figs" / "compare.png"
    fig = compare(tiny_pair, a, b, ["Saliency", "CorrRISE", XSSAB(tiny_pair)], output,
                  options={"CorrRISE": {"n_masks": 20}}, label="tiny")
    assert output.is_file() and output.stat().st_size > 1000
    rows = fig.subfigs
    assert len(rows) == 3
    assert [r.get_suptitle().split()[0] for r in rows] == ["Saliency", "CorrRISE", "xSSAB"]
    for row in rows:
        assert [ax.get_title() for ax in row.axes] == list(ROW_TITLES)
        assert "row scale 0–" in row.get_suptitle()
    decision = "Accept" if float(tiny_pair(a, b)) >= tiny_pair.threshold else "Reject"
    assert fig.get_suptitle().startswith("tiny: cosine") and decision in fig.get_suptitle()


def test_row_scale_is_shared_by_the_four_maps():
    from matplotlib.figure import Figure

    g = torch.Generator().manual_seed(0)
    face = torch.rand(3, 8, 8, generator=g)
    sp, sr = torch.randn(8, 8, generator=g), 3 * torch.randn(8, 8, generator=g)
    vmax = draw_pair_row(Figure().subfigures(1, 1), face, face, sp, sr, percentile=90)
    parts = torch.cat([sp.clamp(min=0), (-sp).clamp(min=0), sr.clamp(min=0), (-sr).clamp(min=0)]).flatten()
    assert vmax == pytest.approx(float(np.percentile(parts.numpy(), 90)))


def test_compare_errors(tiny_pair):
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    with pytest.raises(InvalidInputError, match="non-empty"):
        compare(tiny_pair, a, b, [])
    with pytest.raises(InvalidInputError, match="single image"):
        compare(tiny_pair, torch.rand(2, 3, 16, 16), b, ["Saliency"])
    with pytest.raises(InvalidInputError, match="unknown method 'Grad'"):
        compare(tiny_pair, a, b, ["Grad"])
    with pytest.raises(InvalidInputError, match="option"):
        compare(tiny_pair, a, b, ["Saliency"], options={"Saliency": {"abs": True}})


def test_pair_figure_still_uses_the_shared_rows(tiny_pair, tmp_path):
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    maps = XSSAB(tiny_pair).attribute((a, b))
    row = PairRow(a[0], b[0], maps[0][0], maps[1][0], score=float(tiny_pair(a, b)), threshold=0.2, label="x")
    fig = pair_figure([row], tmp_path / "pair.png")
    assert [ax.get_title() for ax in fig.subfigs[0].axes] == list(ROW_TITLES)
    assert viz.to_hwc(a).shape == (16, 16, 3)
