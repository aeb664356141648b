"""FGGB engine strategies, chunking and gradient reuse across pairs (issue 6).

No timings here (they live in ``benchmarks/run.py``); these tests pin down that every
strategy and chunk gives the same maps and that gradients are computed once per unique image.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import List, Tuple

import pytest
import torch

from captum_fggb import FGGB, FaceVerificationPair
from captum_fggb.errors import InvalidInputError
from captum_fggb.jacobian import DEFAULT_CHUNK, resolve_strategy

from .helpers import TinyEmbedder


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: tiny models gain nothing from more, and on a shared CPU two OpenMP
    threads made these tests 30-100x slower (measured). Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


class GradCounter:
    """Wraps ``torch.autograd.grad``: counts calls and per-dimension gradients."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.dimensions = 0
        original = torch.autograd.grad

        def counting(outputs, inputs, grad_outputs=None, *args, **kwargs):
            self.calls += 1
            batched = kwargs.get("is_grads_batched", False)
            self.dimensions += int(grad_outputs.shape[0]) if batched else 1
            return original(outputs, inputs, grad_outputs, *args, **kwargs)

        monkeypatch.setattr(torch.autograd, "grad", counting)


def fold_pairs(pairs_txt: Path, fold: int = 1) -> List[Tuple[Tuple[str, int], Tuple[str, int]]]:
    """Pairs of one fold of an LFW ``pairs.txt`` (header ``folds n``; 2n lines per fold)."""
    lines = pairs_txt.read_text().splitlines()
    per_fold = 2 * int(lines[0].split()[1])
    pairs = []
    for line in lines[1 + (fold - 1) * per_fold : 1 + fold * per_fold]:
        fields = line.split()
        if len(fields) == 3:  # genuine: name n1 n2
            pairs.append(((fields[0], int(fields[1])), (fields[0], int(fields[2]))))
        else:  # impostor: name1 n1 name2 n2
            pairs.append(((fields[0], int(fields[1])), (fields[2], int(fields[3]))))
    return pairs


# ---------------------------------------------------------------- strategies and chunks


@pytest.mark.parametrize("chunk", [None, 1, 5, 12, 100])
def test_strategies_and_chunks_give_the_same_maps(tiny_pair, chunk):
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    expected = FGGB(tiny_pair, strategy="sequential").attribute((a, b))
    strategies = ["batched", "auto"] if chunk not in (None, 1) else ["sequential", "batched", "auto"]
    for strategy in strategies:
        got = FGGB(tiny_pair, strategy=strategy).attribute((a, b), internal_batch_size=chunk)
        assert rel_err(got[0], expected[0]) <= 1e-5 and rel_err(got[1], expected[1]) <= 1e-5


@pytest.mark.slow
def test_batched_equals_sequential_on_a_real_face(sface_pair):
    from captum_fggb import samples

    probe, _ = samples.load_pair(*samples.GENUINE_PAIR)
    seq_maps, seq_unit = FGGB(sface_pair, strategy="sequential").dimension_maps(probe)
    bat_maps, bat_unit = FGGB(sface_pair, strategy="batched").dimension_maps(probe, internal_batch_size=64)
    assert seq_maps.shape == (1, 128, 112, 112)
    assert rel_err(bat_maps, seq_maps) <= 1e-5 and torch.equal(bat_unit, seq_unit)
    norms = seq_maps.flatten(2).norm(dim=2)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)


def test_strategy_resolution():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_strategy("auto", None, cpu, 128) == 1
    assert resolve_strategy("auto", None, cuda, 128) == DEFAULT_CHUNK
    assert resolve_strategy("auto", None, cuda, 12) == 12
    assert resolve_strategy("auto", 16, cpu, 128) == 16  # an explicit chunk batches anywhere
    assert resolve_strategy("batched", None, cpu, 128) == DEFAULT_CHUNK
    assert resolve_strategy("batched", 1000, cpu, 128) == 128
    assert resolve_strategy("sequential", None, cuda, 512) == 1


def test_strategy_errors(tiny_pair):
    a = torch.rand(1, 3, 16, 16)
    with pytest.raises(InvalidInputError, match="strategy='fast'"):
        FGGB(tiny_pair, strategy="fast")
    with pytest.raises(InvalidInputError, match="strategy='batched'"):
        FGGB(tiny_pair, strategy="sequential").attribute((a, a), internal_batch_size=4)
    with pytest.raises(InvalidInputError, match="internal_batch_size"):
        FGGB(tiny_pair, strategy="batched").attribute((a, a), internal_batch_size=0)


def test_sequential_does_one_backward_per_dimension(tiny_pair, monkeypatch):
    counter = GradCounter(monkeypatch)
    FGGB(tiny_pair, strategy="sequential").dimension_maps(torch.rand(3, 3, 16, 16))
    assert counter.calls == counter.dimensions == 12
    counter.calls = counter.dimensions = 0
    FGGB(tiny_pair, strategy="batched").dimension_maps(torch.rand(3, 3, 16, 16), internal_batch_size=5)
    assert counter.calls == 3 and counter.dimensions == 12


# ---------------------------------------------------------------- one probe, many references


def test_probe_against_references_differentiates_the_probe_once(tiny_pair, monkeypatch):
    probe, refs = torch.rand(1, 3, 16, 16), torch.rand(20, 3, 16, 16)
    fggb = FGGB(tiny_pair)
    counter = GradCounter(monkeypatch)
    maps = fggb.attribute(probe, additional_forward_args=(refs,))
    assert maps.shape == (20, 3, 16, 16) and counter.dimensions == 12
    for k in (0, 7, 19):
        single = fggb.attribute(probe, additional_forward_args=(refs[k : k + 1],))
        assert rel_err(maps[k], single[0]) <= 1e-5


# ---------------------------------------------------------------- attribute_pairs


@pytest.mark.parametrize("side", ["probe", "both"])
@pytest.mark.parametrize("map_name", ["signed", "similarity", "dissimilarity"])
def test_attribute_pairs_equals_per_pair_attribute(tiny_pair, side, map_name):
    images = torch.rand(6, 3, 16, 16)
    # repeats, a self-pair and both orders of one pair
    index_pairs = [(0, 1), (2, 3), (0, 4), (5, 5), (1, 0), (0, 1), (3, 2)]
    fggb = FGGB(tiny_pair)
    t = float(tiny_pair(images[0:1], images[1:2]))  # both kinds of evidence at this threshold
    maps_a, maps_b = fggb.attribute_pairs(images, index_pairs, map=map_name, side=side, threshold=t)
    assert maps_a.shape == (7, 3, 16, 16)
    assert (maps_b is None) == (side == "probe")
    for p, (i, j) in enumerate(index_pairs):
        exp_a, exp_b = fggb.attribute((images[i : i + 1], images[j : j + 1]), map=map_name, threshold=t)
        assert rel_err(maps_a[p], exp_a[0]) <= 1e-6
        if side == "both":
            assert rel_err(maps_b[p], exp_b[0]) <= 1e-6
    assert torch.equal(maps_a[0], maps_a[5])  # a repeated pair gives identical rows
    if side == "both":
        assert torch.equal(maps_a[3], maps_b[3])  # a self-pair: one image, one set of maps
        assert torch.equal(maps_a[4], maps_b[0]) and torch.equal(maps_b[4], maps_a[0])


def test_attribute_pairs_inputs_as_sequences_and_options(tiny_pair):
    images = torch.rand(4, 3, 16, 16)
    pairs = torch.tensor([[0, 1], [2, 3], [3, 0]])
    fggb = FGGB(tiny_pair, smoothing_sigma=1.5, strategy="batched")
    expected = fggb.attribute_pairs(images, pairs, side="both", internal_batch_size=5)
    from_3d = fggb.attribute_pairs(list(images), pairs.tolist(), side="both", internal_batch_size=5)
    from_4d = fggb.attribute_pairs([im.unsqueeze(0) for im in images], pairs, side="both", internal_batch_size=5)
    for got in (from_3d, from_4d):
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
    single = fggb.attribute((images[3:4], images[0:1]), internal_batch_size=5)
    assert rel_err(expected[0][2], single[0][0]) <= 1e-6 and rel_err(expected[1][2], single[1][0]) <= 1e-6


def test_attribute_pairs_progress_and_no_side_effects(capsys):
    embedder = TinyEmbedder()
    embedder.train()
    state = copy.deepcopy(embedder.state_dict())
    pair = FaceVerificationPair(embedder)
    images = torch.rand(3, 3, 16, 16)
    before = images.clone()
    FGGB(pair).attribute_pairs(images, [(0, 1), (1, 2)], side="both", show_progress=True)
    err = capsys.readouterr().err
    assert "FGGB" in err and "3/3" in err  # one step per unique image
    assert embedder.training and all(p.requires_grad and p.grad is None for p in embedder.parameters())
    assert all(torch.equal(v, state[k]) for k, v in embedder.state_dict().items())
    assert torch.equal(images, before) and not images.requires_grad


def test_attribute_pairs_errors(tiny_pair):
    fggb = FGGB(tiny_pair)
    images = torch.rand(3, 3, 16, 16)
    with pytest.raises(InvalidInputError, match="side='reference'"):
        fggb.attribute_pairs(images, [(0, 1)], side="reference")
    with pytest.raises(InvalidInputError, match=r"index_pairs\[1\] = \[2, 3\] is outside \[0, 3\)"):
        fggb.attribute_pairs(images, [(0, 1), (2, 3)])
    with pytest.raises(InvalidInputError, match="outside"):
        fggb.attribute_pairs(images, [(-1, 1)])
    with pytest.raises(InvalidInputError, match="integer tensor"):
        fggb.attribute_pairs(images, torch.tensor([[0.0, 1.0]]))
    with pytest.raises(InvalidInputError, match=r"shape \(P, 2\)"):
        fggb.attribute_pairs(images, torch.tensor([0, 1]))
    with pytest.raises(InvalidInputError, match="empty"):
        fggb.attribute_pairs(images, [])
    with pytest.raises(InvalidInputError, match="Python ints"):
        fggb.attribute_pairs(images, [(0, 1.0)])
    with pytest.raises(InvalidInputError, match="one shape"):
        fggb.attribute_pairs([torch.rand(3, 16, 16), torch.rand(3, 8, 8)], [(0, 1)])
    with pytest.raises(InvalidInputError, match=r"images\[1\]"):
        fggb.attribute_pairs([torch.rand(3, 16, 16), torch.rand(2, 3, 16, 16)], [(0, 1)])
    with pytest.raises(TypeError, match="images"):
        fggb.attribute_pairs("faces", [(0, 1)])
    with pytest.raises(InvalidInputError, match="map='both'"):
        fggb.attribute_pairs(images, [(0, 1)], map="both")
    with pytest.raises(InvalidInputError, match="0-255|\\[0, 1\\]|outside"):
        fggb.attribute_pairs(images * 255, [(0, 1)])


def test_lfw_fold1_gradients_once_per_unique_image(lfw_dir, monkeypatch):
    """Fold 1 of LFW: 600 pairs, 1,200 sides, 807 unique images → 807 × D gradients."""
    pairs = fold_pairs(lfw_dir / "pairs.txt", fold=1)
    assert len(pairs) == 600 and sum(a[0] == b[0] for a, b in pairs) == 300
    names = sorted({image for pair in pairs for image in pair})
    assert len(names) == 807 and 2 * len(pairs) == 1200
    index = {name: i for i, name in enumerate(names)}
    index_pairs = torch.tensor([(index[a], index[b]) for a, b in pairs])

    dims = 4
    pair = FaceVerificationPair(TinyEmbedder(seed=3, dim=dims, size=8), threshold=0.1)
    images = torch.rand(len(names), 3, 8, 8)  # one tiny synthetic image per LFW name/number
    for strategy, chunk, calls_per_image in (("sequential", None, dims), ("batched", 3, 2)):
        counter = GradCounter(monkeypatch)
        maps_a, maps_b = FGGB(pair, strategy=strategy).attribute_pairs(
            images, index_pairs, side="both", internal_batch_size=chunk
        )
        assert counter.dimensions == 807 * dims  # not 1,200 × dims
        assert counter.calls == 807 * calls_per_image
        assert maps_a.shape == maps_b.shape == (600, 3, 8, 8) and torch.isfinite(maps_b).all()
    counter = GradCounter(monkeypatch)
    FGGB(pair).attribute_pairs(images, index_pairs, side="probe")
    assert counter.dimensions == len(set(index_pairs[:, 0].tolist())) * dims
