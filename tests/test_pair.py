"""FaceVerificationPair: scores, decisions, broadcasting, Captum built-ins, no side effects."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients, NoiseTunnel, Occlusion, Saliency

from captum_fggb import FaceVerificationPair, samples
from captum_fggb.errors import EmbedderOutputError, InvalidInputError

from .helpers import TinyEmbedder


def test_score_is_cosine_of_embeddings(tiny_pair):
    a, b = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    with torch.no_grad():
        expected = F.cosine_similarity(tiny_pair.embedder(a), tiny_pair.embedder(b), dim=1)
        assert torch.allclose(tiny_pair(a, b), expected, atol=1e-6)
        assert torch.equal(tiny_pair.decide(a, b), expected >= 0.2)


def test_one_broadcasts_against_many(tiny_pair):
    a, b = torch.rand(1, 3, 16, 16), torch.rand(5, 3, 16, 16)
    with torch.no_grad():
        many = tiny_pair(a, b)
        assert many.shape == (5,)
        assert torch.allclose(many, torch.stack([tiny_pair(a, b[i : i + 1])[0] for i in range(5)]), atol=1e-6)
        assert torch.allclose(tiny_pair(b, a), many, atol=1e-6)
    with pytest.raises(InvalidInputError, match="batch size 2 but reference has 3"):
        tiny_pair(torch.rand(2, 3, 16, 16), torch.rand(3, 3, 16, 16))


def test_threshold_defaults_and_errors():
    assert FaceVerificationPair(TinyEmbedder()).threshold == pytest.approx(0.2)
    plain = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 8))
    with pytest.raises(InvalidInputError, match="no verification_threshold"):
        FaceVerificationPair(plain)
    assert FaceVerificationPair(plain, threshold=0.5).threshold == 0.5
    with pytest.raises(InvalidInputError, match=r"outside \[-1, 1\]"):
        FaceVerificationPair(plain, threshold=1.5)
    with pytest.raises(TypeError, match="nn.Module"):
        FaceVerificationPair(lambda x: x, threshold=0.3)


def test_genuine_scores_above_impostor_on_samples(sface_pair):
    with torch.no_grad():
        genuine = float(sface_pair(*samples.load_pair(*samples.GENUINE_PAIR)))
        impostor = float(sface_pair(*samples.load_pair(*samples.IMPOSTOR_PAIR)))
    assert genuine >= sface_pair.threshold > impostor
    assert bool(sface_pair.decide(*samples.load_pair(*samples.GENUINE_PAIR)))


def test_differentiable_in_both_inputs(tiny_pair):
    a = torch.rand(2, 3, 16, 16, requires_grad=True)
    b = torch.rand(2, 3, 16, 16, requires_grad=True)
    tiny_pair(a, b).sum().backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    assert all(p.grad is None for p in tiny_pair.embedder.parameters())


@pytest.mark.parametrize("make", [
    lambda pair: Saliency(pair),
    lambda pair: IntegratedGradients(pair),
    lambda pair: Occlusion(pair),
])
def test_captum_builtins_with_tuple_and_forward_args(tiny_pair, make):
    a, b = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    method = make(tiny_pair)
    kwargs = {"sliding_window_shapes": (3, 4, 4), "strides": (3, 4, 4)} if isinstance(method, Occlusion) else {}
    both = method.attribute((a, b), **({"sliding_window_shapes": ((3, 4, 4),) * 2, "strides": ((3, 4, 4),) * 2}
                                       if kwargs else {}))
    assert isinstance(both, tuple) and both[0].shape == a.shape and both[1].shape == b.shape
    single = method.attribute(a, additional_forward_args=(b,), **kwargs)
    assert single.shape == a.shape
    if not isinstance(method, IntegratedGradients):  # IG's path moves both images at once
        assert torch.allclose(single, both[0], atol=1e-5)


def test_noise_tunnel_on_pair(tiny_pair):
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    out = NoiseTunnel(Saliency(tiny_pair)).attribute((a, b), nt_samples=3, stdevs=0.05)
    assert out[0].shape == a.shape and torch.isfinite(out[0]).all()


def test_training_model_is_scored_in_eval_mode_and_handed_back():
    embedder = TinyEmbedder()
    pair = FaceVerificationPair(embedder)
    a, b = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        eval_scores = pair(a, b)
    embedder.train()
    flags = [p.requires_grad for p in embedder.parameters()]
    with torch.no_grad():
        train_scores = pair(a, b)
    assert torch.allclose(train_scores, eval_scores, atol=1e-6)
    assert all(m.training for m in embedder.modules())
    assert [p.requires_grad for p in embedder.parameters()] == flags


class _TupleOut(torch.nn.Module):
    input_size = (16, 16)

    def forward(self, x):
        return x.flatten(1)[:, :8], x.flatten(1)[:, 8:16]


def test_bad_embedder_outputs():
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(EmbedderOutputError, match="returned a tuple"):
        FaceVerificationPair(_TupleOut(), threshold=0.3)(x, x)
    zero = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(768, 4))
    torch.nn.init.zeros_(zero[1].weight)
    torch.nn.init.zeros_(zero[1].bias)
    with pytest.raises(EmbedderOutputError, match="all-zero embedding"):
        FaceVerificationPair(zero, threshold=0.3)(x, x)


@pytest.mark.parametrize("bad, message", [
    (torch.rand(3, 16, 16), r"unsqueeze\(0\)"),
    (torch.rand(1, 1, 16, 16), "grayscale"),
    (torch.rand(1, 4, 16, 16), "RGBA"),
    (torch.rand(1, 3, 20, 20), "spatial size"),
    ((torch.rand(1, 3, 16, 16) * 255).to(torch.uint8), "integer dtype"),
    (torch.rand(1, 3, 16, 16, dtype=torch.float64), "float64"),
    (torch.rand(1, 3, 16, 16) * 255, "divide it by 255"),
    (torch.full((1, 3, 16, 16), float("nan")), "NaN"),
    (torch.rand(0, 3, 16, 16), "empty batch"),
])
def test_bad_images_are_named(tiny_pair, bad, message):
    with pytest.raises(InvalidInputError, match=message):
        tiny_pair(bad, torch.rand(1, 3, 16, 16))
