"""CorrRISE against a per-pixel scipy Spearman reference on a fixed mask set, and its masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import NoiseTunnel, PerturbationAttribution

from captum_fggb import CorrRISE, FaceVerificationPair
from captum_fggb.baselines.corrrise import average_ranks, random_patch_masks, rank_correlation_map
from captum_fggb.errors import InvalidInputError

from .helpers import TinyEmbedder

stats = pytest.importorskip("scipy.stats")


def hand_masks(count, size=16, patch=5, seed=0):
    """Keep-masks with two patch x patch black squares each, placed with numpy; the last row
    and column are never occluded."""
    rng = np.random.default_rng(seed)
    masks = np.ones((count, size, size), dtype=np.float32)
    for m in masks:
        for _ in range(2):
            r, c = rng.integers(0, size - patch, size=2)  # origins <= size - patch - 1
            m[r : r + patch, c : c + patch] = 0.0
    return torch.from_numpy(masks)


def reference_corrrise(model, x, x_ref, masks):
    """Lu et al.'s CorrRISE for one image, written plainly: one masked forward per mask, then
    ``scipy.stats.spearmanr`` per pixel; constant pixels get 0."""
    with torch.no_grad():
        e_ref = F.normalize(model(x_ref), dim=1)[0]
        scores = np.array([float(F.normalize(model(x * m), dim=1)[0] @ e_ref) for m in masks])
    keep = masks.numpy()
    out = np.zeros(keep.shape[1:])
    for i in range(keep.shape[1]):
        for j in range(keep.shape[2]):
            column = keep[:, i, j]
            if column.min() != column.max():
                out[i, j] = stats.spearmanr(column, scores).statistic
    return torch.from_numpy(out)


def test_matches_scipy_spearman_on_fixed_masks():
    model = TinyEmbedder(seed=1)
    pair = FaceVerificationPair(model, threshold=0.2)
    masks = hand_masks(40)
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    corrrise = CorrRISE(pair, masks=masks, perturbations_per_eval=7)
    signed_a, signed_b = corrrise.attribute((a, b))
    assert signed_a.shape == a.shape and torch.equal(signed_a[:, 0], signed_a[:, 2])
    for i in range(2):
        expected_a = reference_corrrise(model, a[i : i + 1], b[i : i + 1], masks)
        expected_b = reference_corrrise(model, b[i : i + 1], a[i : i + 1], masks)
        assert torch.allclose(signed_a[i, 0].double(), expected_a, atol=1e-5)
        assert torch.allclose(signed_b[i, 0].double(), expected_b, atol=1e-5)
    # the last row and column are never occluded: exactly 0; the rest is informative
    assert (signed_a[:, :, -1, :] == 0).all() and (signed_a[:, :, :, -1] == 0).all()
    assert (signed_a[:, 0, :-1, :-1].abs() > 0).float().mean() > 0.9
    assert corrrise.get_masks((16, 16)) is corrrise.get_masks((16, 16)) and corrrise.n_masks == 40


def test_vectorised_ranks_and_correlation_match_scipy():
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 6, (3, 25), generator=g).float()  # many ties
    for row, ranks in zip(scores, average_ranks(scores)):
        assert np.allclose(ranks.numpy(), stats.rankdata(row.numpy()))
    keep = (torch.rand(25, 4, 5, generator=g) > 0.3).float()
    keep[:, 0, 0] = 1.0  # never occluded
    corr = rank_correlation_map(keep, scores)
    for n in range(3):
        for i in range(4):
            for j in range(5):
                column = keep[:, i, j].numpy()
                expected = 0.0 if column.min() == column.max() else stats.spearmanr(column, scores[n]).statistic
                assert abs(float(corr[n, i, j]) - expected) < 1e-9
    assert torch.equal(rank_correlation_map(keep, torch.ones(1, 25)), torch.zeros(1, 4, 5))


def test_default_masks_follow_the_paper():
    pair = FaceVerificationPair(TinyEmbedder(size=112), threshold=0.2)
    corrrise = CorrRISE(pair)
    keep = corrrise.get_masks((112, 112))
    assert keep.shape == (500, 112, 112) and set(keep.unique().tolist()) == {0.0, 1.0}
    occluded = (keep == 0).sum(dim=(1, 2))
    assert (occluded >= 900).all() and (occluded <= 3 * 900).all()  # three 30x30 patches, may overlap
    # every occluded pixel lies in a 30x30 all-zero square (the patches), checked by erosion
    holes = 1 - keep.unsqueeze(1)
    eroded = -F.max_pool2d(F.max_pool2d(-holes, (30, 1), stride=1), (1, 30), stride=1)  # separable min-pool
    dilated = F.max_pool2d(F.max_pool2d(F.pad(eroded, (29, 29, 29, 29)), (30, 1), stride=1), (1, 30), stride=1)
    assert torch.equal(dilated, holes)
    # reproducible from the seed, different for another seed, fixed per object
    assert torch.equal(CorrRISE(pair).get_masks((112, 112)), keep)
    assert not torch.equal(CorrRISE(pair, seed=1).get_masks((112, 112)), keep)


def test_patch_size_scales_with_the_image():
    pair = FaceVerificationPair(TinyEmbedder(seed=0), threshold=0.2)
    corrrise = CorrRISE(pair, n_masks=50)
    assert corrrise.scaled_patch_size((16, 16)) == (4, 4)
    assert corrrise.scaled_patch_size((224, 112)) == (60, 30)
    occluded = (corrrise.get_masks((16, 16)) == 0).sum(dim=(1, 2))
    assert (occluded >= 16).all() and (occluded <= 48).all()
    masks = random_patch_masks(10, (20, 30), patches=1, patch_size=(5, 7), generator=torch.Generator().manual_seed(0))
    assert ((masks == 0).sum(dim=(1, 2)) == 35).all()
    with pytest.raises(InvalidInputError, match="does not fit"):
        random_patch_masks(2, (4, 4), patch_size=(5, 5))


def test_fixed_masks_reproduce_and_batching_is_invariant(tiny_pair):
    a, b = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    first = CorrRISE(tiny_pair, n_masks=60, seed=5)
    maps = first.attribute((a, b))
    again = CorrRISE(tiny_pair, masks=first.get_masks((16, 16)), perturbations_per_eval=11)
    maps_again = again.attribute((a, b), perturbations_per_eval=60, show_progress=True)
    assert torch.allclose(maps[0], maps_again[0], atol=1e-6) and torch.allclose(maps[1], maps_again[1], atol=1e-6)
    one = again.attribute(a[1:2], additional_forward_args=(b[1:2],))
    assert torch.allclose(one, maps[0][1:2], atol=1e-6)
    with pytest.raises(InvalidInputError, match="fixed masks are 16x16"):
        again.get_masks((32, 32))


def test_captum_identity_and_errors(tiny_pair):
    corrrise = CorrRISE(tiny_pair, n_masks=20)
    assert isinstance(corrrise, PerturbationAttribution) and corrrise.get_name() == "CorrRISE"
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    out = NoiseTunnel(corrrise).attribute(a, nt_samples=2, stdevs=0.01, additional_forward_args=(b,))
    assert out.shape == a.shape and not out.requires_grad
    with pytest.raises(InvalidInputError, match="n_masks"):
        CorrRISE(tiny_pair, n_masks=0)
    with pytest.raises(InvalidInputError, match="only 0"):
        CorrRISE(tiny_pair, masks=torch.full((4, 16, 16), 0.5))
    with pytest.raises(InvalidInputError, match="shape"):
        CorrRISE(tiny_pair, masks=torch.ones(16, 16))
    with pytest.raises(InvalidInputError, match="perturbations_per_eval"):
        corrrise.attribute((a, b), perturbations_per_eval=0)
