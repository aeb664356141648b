"""FGGB: the paper's equations on real faces, its properties, Captum interoperability."""

from __future__ import annotations

import copy

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from captum.attr import GradientAttribution, NoiseTunnel
from captum.attr import visualization as captum_viz
from captum.metrics import infidelity, infidelity_perturb_func_decorator, sensitivity_max

from captum_fggb import FGGB, FaceVerificationPair, samples
from captum_fggb.errors import InvalidInputError
from captum_fggb.viz import to_hwc

from .helpers import TinyEmbedder

matplotlib.use("Agg")


def reference_fggb(model, x, x_ref, threshold):
    """The paper's algorithm written out plainly for one image (paper.md §1.4)."""
    with torch.no_grad():
        e_ref = model(x_ref)[0]
        e_ref = e_ref / e_ref.norm()
    x = x.clone().requires_grad_(True)
    e = model(x)[0]
    e = e / e.norm()
    n = e.shape[0]
    w = e.detach() * e_ref - threshold / n
    total = torch.zeros(x.shape[-2:])
    for k in range(n):
        (g,) = torch.autograd.grad(e[k], x, retain_graph=True)
        g = g[0].abs().mean(dim=0)
        norm = g.norm()
        total = total + w[k] * (g / norm if norm > 0 else g)
    return total


def rel_err(a, b):
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def genuine_sface(sface_pair):
    """FGGB on the shipped genuine pair with SFace, both sides (computed once)."""
    probe, reference = samples.load_pair(*samples.GENUINE_PAIR)
    return probe, reference, FGGB(sface_pair).attribute((probe, reference))


def test_matches_plain_reference_on_real_faces(sface_pair, sface_model, genuine_sface):
    probe, reference, (signed_a, signed_b) = genuine_sface
    expected = reference_fggb(sface_model, probe, reference, 0.363)
    assert rel_err(signed_a[0, 0], expected) <= 1e-5
    assert torch.equal(signed_a[0, 0], signed_a[0, 1]) and torch.equal(signed_a[0, 0], signed_a[0, 2])
    # the accepted genuine pair: more similarity than dissimilarity mass on both faces
    for signed in (signed_a, signed_b):
        assert signed.clamp(min=0).sum() > (-signed).clamp(min=0).sum()


def test_reference_side_and_swap(sface_pair, genuine_sface):
    probe, reference, (signed_a, signed_b) = genuine_sface
    fggb = FGGB(sface_pair)
    swapped_b, swapped_a = fggb.attribute((reference, probe))
    assert rel_err(swapped_a, signed_a) <= 1e-5 and rel_err(swapped_b, signed_b) <= 1e-5


def test_weights_sum_to_margin(sface_pair):
    probe, reference = samples.load_pair(*samples.IMPOSTOR_PAIR)
    fggb = FGGB(sface_pair)
    with torch.no_grad():
        unit_a = F.normalize(sface_pair.embed(probe), dim=1)
        unit_b = F.normalize(sface_pair.embed(reference), dim=1)
        score = float(sface_pair(probe, reference))
    # with all-ones unit "maps" the signed map equals the summed weights at every pixel
    ones = torch.ones(1, 128, 4, 4)
    signed = fggb.combine(ones, unit_a, unit_b)
    assert torch.allclose(signed, torch.full_like(signed, score - 0.363), atol=1e-5)


def test_similarity_and_dissimilarity_split(tiny_pair):
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    fggb = FGGB(tiny_pair)
    t = float(tiny_pair(a, b))  # a pair right at the threshold has both kinds of evidence
    signed_a, signed_b = fggb.attribute((a, b), threshold=t)
    sim_a, sim_b = fggb.attribute((a, b), map="similarity", threshold=t)
    dis_a, dis_b = fggb.attribute((a, b), map="dissimilarity", threshold=t)
    for signed, sim, dis in ((signed_a, sim_a, dis_a), (signed_b, sim_b, dis_b)):
        assert (sim >= 0).all() and (dis >= 0).all()
        assert not ((sim > 0) & (dis > 0)).any()
        assert torch.allclose(sim - dis, signed, atol=1e-7)
        assert sim.sum() > 0 and dis.sum() > 0


def test_batches_equal_per_pair_results(tiny_pair):
    a, b = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    fggb = FGGB(tiny_pair)
    batched = fggb.attribute((a, b))
    for i in range(4):
        single = fggb.attribute((a[i : i + 1], b[i : i + 1]))
        assert rel_err(batched[0][i], single[0][0]) <= 1e-5
        assert rel_err(batched[1][i], single[1][0]) <= 1e-5


def test_one_probe_against_gallery(tiny_pair):
    a, gallery = torch.rand(1, 3, 16, 16), torch.rand(5, 3, 16, 16)
    fggb = FGGB(tiny_pair)
    maps_a, maps_g = fggb.attribute((a, gallery))
    assert maps_a.shape == (5, 3, 16, 16) and maps_g.shape == (5, 3, 16, 16)
    for i in range(5):
        single_a, single_g = fggb.attribute((a, gallery[i : i + 1]))
        assert rel_err(maps_a[i], single_a[0]) <= 1e-5 and rel_err(maps_g[i], single_g[0]) <= 1e-5


def test_single_side_and_chunked_engine(tiny_pair):
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    fggb = FGGB(tiny_pair)
    both = fggb.attribute((a, b))
    one = fggb.attribute(a, additional_forward_args=(b,))
    assert isinstance(one, torch.Tensor) and rel_err(one, both[0]) <= 1e-6
    chunked = fggb.attribute((a, b), internal_batch_size=5)
    assert rel_err(chunked[0], both[0]) <= 1e-5 and rel_err(chunked[1], both[1]) <= 1e-5


def test_threshold_shifts_decision_mass(tiny_pair):
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    fggb = FGGB(tiny_pair)
    low = fggb.attribute(a, additional_forward_args=(b,), threshold=-0.5)
    high = fggb.attribute(a, additional_forward_args=(b,), threshold=0.5)
    # S(t) is affine in t at every pixel: S(t_lo) - S(t_hi) = (t_hi - t_lo) / N * sum_k G~^k
    maps, _ = fggb.dimension_maps(a)
    expected = 1.0 / maps.shape[1] * maps.sum(dim=1)
    assert (low >= high).all()
    assert torch.allclose((low - high)[:, 0], expected, atol=1e-6)


def test_captum_identity():
    fggb = FGGB(FaceVerificationPair(TinyEmbedder()))
    assert isinstance(fggb, GradientAttribution)
    assert fggb.get_name() == "FGGB"
    assert not fggb.multiplies_by_inputs and not fggb.has_convergence_delta()


def test_noise_tunnel(tiny_pair):
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    nt = NoiseTunnel(FGGB(tiny_pair))
    both = nt.attribute((a, b), nt_samples=3, stdevs=0.05, map="similarity")
    assert len(both) == 2 and both[0].shape == a.shape and (both[0] >= 0).all()
    one = nt.attribute(a, nt_samples=3, stdevs=0.05, additional_forward_args=(b,))
    assert one.shape == a.shape and torch.isfinite(one).all()
    zero_noise = nt.attribute(a, nt_samples=2, stdevs=0.0, additional_forward_args=(b,))
    assert rel_err(zero_noise, FGGB(tiny_pair).attribute(a, additional_forward_args=(b,))) <= 1e-5


def test_sensitivity_max_and_infidelity(tiny_pair):
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    fggb = FGGB(tiny_pair)
    sens = sensitivity_max(fggb.attribute, a, n_perturb_samples=3, additional_forward_args=(b,))
    assert sens.shape == (2,) and torch.isfinite(sens).all() and (sens >= 0).all()

    @infidelity_perturb_func_decorator(multiply_by_inputs=False)
    def perturb(inputs):
        return inputs - 0.02 * torch.randn_like(inputs)

    attr = fggb.attribute(a, additional_forward_args=(b,))
    infid = infidelity(tiny_pair, perturb, a, attr, additional_forward_args=(b,), n_perturb_samples=4)
    assert infid.shape == (2,) and torch.isfinite(infid).all()


def test_captum_visualisation(tiny_pair):
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    signed = FGGB(tiny_pair).attribute(a, additional_forward_args=(b,))
    fig, ax = captum_viz.visualize_image_attr(
        to_hwc(signed[0]), to_hwc(a[0]), method="blended_heat_map", sign="all", use_pyplot=False
    )
    assert ax.images[-1].get_array().shape == (16, 16)


def test_no_side_effects_even_on_error():
    embedder = TinyEmbedder()
    embedder.train()
    embedder.conv1.weight.requires_grad_(False)
    state = copy.deepcopy(embedder.state_dict())
    flags = [(m.training) for m in embedder.modules()]
    grads = [p.requires_grad for p in embedder.parameters()]
    pair = FaceVerificationPair(embedder)
    a = torch.rand(2, 3, 16, 16, requires_grad=True)
    b = torch.rand(2, 3, 16, 16)
    a_before, b_before = a.detach().clone(), b.clone()
    fggb = FGGB(pair)
    fggb.attribute((a, b))
    with pytest.raises(InvalidInputError):
        fggb.attribute((a, b), map="nope")
    with pytest.raises(InvalidInputError):
        fggb.attribute((a, torch.rand(3, 3, 16, 16)))
    assert [m.training for m in embedder.modules()] == flags
    assert [p.requires_grad for p in embedder.parameters()] == grads
    assert all(p.grad is None for p in embedder.parameters())
    assert all(torch.equal(v, state[k]) for k, v in embedder.state_dict().items())
    assert not embedder._forward_hooks and not embedder._backward_hooks
    assert torch.equal(a.detach(), a_before) and torch.equal(b, b_before)
    assert a.requires_grad and a.grad is None and not b.requires_grad


def test_training_model_explained_with_eval_semantics():
    embedder = TinyEmbedder()
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    eval_maps = FGGB(FaceVerificationPair(embedder)).attribute((a, b))
    embedder.train()
    train_maps = FGGB(FaceVerificationPair(embedder)).attribute((a, b))
    assert rel_err(train_maps[0], eval_maps[0]) <= 1e-6
    assert embedder.training


def test_argument_errors(tiny_pair):
    fggb = FGGB(tiny_pair)
    a = torch.rand(1, 3, 16, 16)
    with pytest.raises(InvalidInputError, match="needs its reference"):
        fggb.attribute(a)
    with pytest.raises(InvalidInputError, match="map='both'"):
        fggb.attribute((a, a), map="both")
    with pytest.raises(InvalidInputError, match="drop additional_forward_args"):
        fggb.attribute((a, a), additional_forward_args=(a,))
    with pytest.raises(InvalidInputError, match="internal_batch_size"):
        fggb.attribute((a, a), internal_batch_size=0)
    with pytest.raises(TypeError, match="FaceVerificationPair"):
        FGGB(TinyEmbedder())
    with pytest.raises(InvalidInputError, match="outside"):
        fggb.attribute((a, a), threshold=2.0)


def test_smoothing_option(tiny_pair):
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    raw = FGGB(tiny_pair).attribute(a, additional_forward_args=(b,))
    smooth = FGGB(tiny_pair, smoothing_sigma=2.0).attribute(a, additional_forward_args=(b,))
    assert smooth.shape == raw.shape
    # blurring keeps the mean (up to the reflective border) and lowers the variation
    assert smooth[0, 0].diff(dim=0).abs().mean() < raw[0, 0].diff(dim=0).abs().mean()
