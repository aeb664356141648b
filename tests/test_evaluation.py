"""The Deletion/Insertion game on synthetic models where the right answer is known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torchvision.transforms.functional import gaussian_blur

import captum_fggb as cf
from captum_fggb import FaceVerificationPair
from captum_fggb.errors import InvalidInputError
from captum_fggb.evaluation import DeletionInsertion, Protocol, Results, normalized_auc, strip_timing
from captum_fggb.evaluation import perturbation as P
from captum_fggb.evaluation._methods import explain_block
from captum_fggb.evaluation.pairs import pair_records, select_pairs

from tests.eval_helpers import FixedMap, RandomMap, RegionEmbedder, SyntheticPairs, region_mask


@pytest.fixture(scope="module")
def region_pair() -> FaceVerificationPair:
    return FaceVerificationPair(RegionEmbedder())


@pytest.fixture(scope="module")
def data() -> SyntheticPairs:
    return SyntheticPairs(n_genuine=8, n_impostor=8)


# --------------------------------------------------------------------------- protocol pieces
def test_constant_map_ranks_in_raster_order_and_ties_are_stable() -> None:
    ranks = P.pixel_ranks(torch.zeros(1, 3, 4, 5))
    assert ranks.tolist() == [list(range(20))]
    m = torch.tensor([[[0.0, 2.0, 2.0], [1.0, 2.0, 0.0]]])  # ties 2 at 1, 2, 4
    order = torch.argsort(P.pixel_ranks(m)[0]).tolist()
    assert order == [1, 2, 4, 3, 0, 5]


def test_pixel_counts_and_fractions() -> None:
    proto = Protocol()
    assert proto.fractions[1] == pytest.approx(0.05) and len(proto.fractions) == 21
    counts = proto.pixel_counts(16 * 16)
    assert counts[0] == 0 and counts[-1] == 256 and counts[1] == math.floor(0.05 * 256 + 0.5) == 13
    assert Protocol(steps=11).pixel_counts(10) == list(range(11))


def test_stacks_delete_and_insert_the_top_pixels() -> None:
    images = torch.rand(2, 3, 4, 4)
    maps = torch.rand(2, 1, 4, 4).expand(-1, 3, -1, -1)
    canvas = P.replacement_canvas(images, "black")
    masks = P.top_k_masks(P.pixel_ranks(maps), [0, 3, 16], (4, 4))
    deleted = P.deletion_stack(images, canvas, masks)
    inserted = P.insertion_stack(images, canvas, masks)
    assert torch.equal(deleted[:, 0], images) and torch.equal(deleted[:, 2], canvas)
    assert torch.equal(inserted[:, 0], canvas) and torch.equal(inserted[:, 2], images)
    top3 = torch.topk(maps[:, 0].flatten(1), 3).indices
    for n in range(2):
        changed = (deleted[n, 1] != images[n]).any(dim=0).flatten().nonzero().flatten()
        assert sorted(changed.tolist()) == sorted(top3[n].tolist())
        assert torch.equal(inserted[n, 1].flatten(1)[:, top3[n]], images[n].flatten(1)[:, top3[n]])


def test_replacement_canvases() -> None:
    images = torch.rand(2, 3, 20, 20)
    mean = P.replacement_canvas(images, "mean")
    assert torch.allclose(mean[:, :, 3, 7], images.mean(dim=(2, 3)))
    blur = P.replacement_canvas(images, "blur", blur_sigma=2.0)
    assert torch.equal(blur, gaussian_blur(images, [13, 13], [2.0, 2.0]))
    with pytest.raises(InvalidInputError, match="replacement"):
        Protocol(replacement="grey")


def test_auc_is_the_normalised_trapezoid() -> None:
    assert normalized_auc([100, 0], [0, 1]) == 50.0
    assert normalized_auc([100, 100, 0], [0, 0.5, 1]) == 75.0


def test_non_finite_maps_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="NaN"):
        P.pixel_ranks(torch.tensor([[[0.0, float("nan")]]]))


# --------------------------------------------------------------------------- known answers
def test_region_model_orders_oracle_random_anti(region_pair, data) -> None:
    """Deleting the only region the model sees first gives the lowest Deletion AUC, the random
    map lands in between and the anti-map (region last) is worst; Insertion the reverse."""
    game = DeletionInsertion(region_pair, block_size=5, subsets={"similarity": "genuine"})
    mask = region_mask()
    methods = [FixedMap(region_pair, mask, "oracle"), RandomMap(region_pair),
               FixedMap(region_pair, 1 - mask, "anti"), cf.FGGB(region_pair)]
    results = game.evaluate(methods, data, include_random=False)
    sim = {name: results[name].maps["similarity"] for name in ("oracle", "Random", "anti", "FGGB")}
    d = {n: r.deletion_auc for n, r in sim.items()}
    i = {n: r.insertion_auc for n, r in sim.items()}
    assert d["oracle"] < 10 < d["Random"] < 90 < d["anti"], d
    assert i["oracle"] > 90 > i["Random"] > 10 > i["anti"], i
    assert d["FGGB"] < d["Random"] and i["FGGB"] > i["Random"]  # gradients live in the region
    for r in sim.values():  # genuine pairs: clean = accepted, blank = rejected
        assert r.deletion_curve[0] == 100 and r.deletion_curve[-1] == 0
        assert r.insertion_curve[0] == 0 and r.insertion_curve[-1] == 100
    scores = sim["oracle"].deletion_scores  # the region is gone after 16 of 256 pixels (step 2)
    assert np.all(scores[:, 2:] < 0.5) and np.allclose(scores[:, 0], 1.0, atol=1e-5)


def test_both_sides_are_perturbed_each_by_its_own_map(region_pair, data) -> None:
    game = DeletionInsertion(region_pair, side="both", steps=5)
    probe, ref = torch.stack([data[i][0] for i in range(3)]), torch.stack([data[i][1] for i in range(3)])
    maps_a, maps_b = torch.rand(3, 1, 16, 16).expand(-1, 3, -1, -1), torch.rand(3, 1, 16, 16).expand(-1, 3, -1, -1)
    deletion, insertion = game.game_scores(probe, ref, maps_a, maps_b)
    for step, k in enumerate([0, 64, 128, 192, 256]):
        def top(maps):
            return (maps[:, :1].flatten(1).argsort(dim=1, descending=True, stable=True).argsort(dim=1) < k).view(3, 1, 16, 16)
        a_del, b_del = probe.masked_fill(top(maps_a), 0.0), ref.masked_fill(top(maps_b), 0.0)
        a_ins, b_ins = probe * top(maps_a), ref * top(maps_b)
        with torch.no_grad():
            assert torch.allclose(deletion[:, step], region_pair(a_del, b_del), atol=1e-6)
            assert torch.allclose(insertion[:, step], region_pair(a_ins, b_ins), atol=1e-6)
    # both images end as the same black canvas: cosine 1, every pair accepted (a property of
    # side="both" with an image-independent replacement, documented in Protocol)
    assert torch.allclose(deletion[:, -1], torch.ones(3)) and torch.allclose(insertion[:, 0], torch.ones(3))


def test_dissimilarity_maps_on_impostors(region_pair, data) -> None:
    game = DeletionInsertion(region_pair, subsets={"dissimilarity": "impostor"})
    results = game.evaluate([cf.FGGB(region_pair), RandomMap(region_pair)], data, include_random=False)
    fggb = results["FGGB"].maps["dissimilarity"]
    assert fggb.same.tolist() == [False] * 8 and fggb.deletion_curve[0] == 100  # impostors start rejected
    assert fggb.deletion_auc < results["Random"].maps["dissimilarity"].deletion_auc


def test_limit_takes_the_first_pairs_of_each_label(data) -> None:
    records = pair_records(data)
    chosen = select_pairs(records, 3)
    assert [r.index for r in chosen] == [0, 1, 2, 8, 9, 10]
    no_meta = SyntheticPairs(n_genuine=8, n_impostor=8, metadata=False)
    hashed = select_pairs(pair_records(no_meta, limit=3), 3)
    assert [r.index for r in hashed] == [0, 1, 2, 8, 9, 10] and hashed[0].a.startswith("sha1:")


def test_results_do_not_depend_on_metadata_and_keep_rng_and_model_state(region_pair) -> None:
    game = DeletionInsertion(region_pair, block_size=4)
    data, data_no_meta = SyntheticPairs(4, 4), SyntheticPairs(4, 4, metadata=False)
    torch.manual_seed(7)
    state = torch.get_rng_state()
    with_meta = game.evaluate([RandomMap(region_pair)], data, include_random=False)
    assert torch.equal(torch.get_rng_state(), state)  # blocks are seeded inside a forked RNG
    without = game.evaluate([RandomMap(region_pair)], data_no_meta, include_random=False)
    for m in ("similarity", "dissimilarity"):
        assert np.array_equal(with_meta["Random"].maps[m].deletion_scores, without["Random"].maps[m].deletion_scores)
    assert not region_pair.embedder.training
    assert all(p.requires_grad for p in region_pair.embedder.parameters())  # handed back unfrozen


# --------------------------------------------------------------------------- FGGB cache
class _GradCounter:
    def __init__(self, module: torch.nn.Module) -> None:
        self.images = 0
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output) -> None:
        if torch.is_grad_enabled() and inputs[0].requires_grad:
            self.images += inputs[0].shape[0]


@pytest.mark.parametrize("side", ["probe", "both"])
def test_fggb_dimension_maps_once_per_unique_image(side) -> None:
    embedder = RegionEmbedder()
    pair = FaceVerificationPair(embedder)
    data = SyntheticPairs(n_genuine=4, n_impostor=1, shared=True)  # id_i/0 is the probe of 2 pairs
    counter = _GradCounter(embedder)
    try:
        game = DeletionInsertion(pair, side=side, block_size=16, subsets={"similarity": "genuine"})
        game.evaluate([cf.FGGB(pair)], data, include_random=False)
    finally:
        counter.handle.remove()
    genuine = [p for p in data.pairs if p[2]]
    unique = {a for a, _, _ in genuine} | ({b for _, b, _ in genuine} if side == "both" else set())
    assert len(genuine) == 8 and counter.images == len(unique) == (4 if side == "probe" else 12)


def test_fggb_block_maps_equal_per_pair_attribute(region_pair) -> None:
    data = SyntheticPairs(n_genuine=3, n_impostor=1, shared=True)
    names = sorted(data.images)
    images = torch.stack([data.images[n] for n in names])
    index_pairs = [(names.index(a), names.index(b)) for a, b, _ in data.pairs]
    fggb = cf.FGGB(region_pair)
    first, second = explain_block(fggb, region_pair, images, index_pairs, "similarity", "both", {})
    for n, (i, j) in enumerate(index_pairs):
        ref_a, ref_b = fggb.attribute((images[i:i + 1], images[j:j + 1]), map="similarity")
        assert torch.allclose(first[n], ref_a[0], atol=1e-6) and torch.allclose(second[n], ref_b[0], atol=1e-6)


# --------------------------------------------------------------------------- results
def test_json_schema_round_trip_table_and_plot(region_pair, data, tmp_path) -> None:
    game = DeletionInsertion(region_pair, replacement="blur", blur_sigma=1.5, model_name="region")
    results = game.evaluate([cf.FGGB(region_pair), RandomMap(region_pair)], data, limit=5, include_random=False)
    path = tmp_path / "r.json"
    results.to_json(path)
    doc = json.loads(path.read_text())
    assert doc["model"] == "region" and doc["threshold"] == 0.5
    assert doc["n_genuine"] == 5 and doc["n_impostor"] == 5 and len(doc["pairs"]) == 10
    proto = doc["protocol"]
    assert proto["steps"] == 21 and proto["replacement"] == "blur" and proto["blur_kernel_size"] == 11
    assert proto["side"] == "probe" and proto["subsets"] == {"similarity": "genuine", "dissimilarity": "impostor"}
    assert proto["limit"] == 5 and proto["fractions_percent"][1] == 5.0 and "ranking" in proto["rules"]
    for name in ("FGGB", "Random"):
        for m in ("similarity", "dissimilarity"):
            entry = doc["methods"][name][m]
            for key in ("deletion_auc", "insertion_auc", "seconds"):
                assert isinstance(entry[key], float)
            for key in ("deletion_curve", "insertion_curve", "deletion_score_curve", "insertion_score_curve"):
                assert len(entry[key]) == 21
            assert np.array(entry["deletion_scores"]).shape == (5, 21)
            assert entry["deletion_auc"] == pytest.approx(normalized_auc(entry["deletion_curve"], np.linspace(0, 1, 21)))
    again = Results.from_json(path)
    assert strip_timing(again.to_dict()) == strip_timing(results.to_dict())
    assert again.to_json() == results.to_json()
    table = results.table()
    assert "| FGGB |" in table and "| Random |" in table and "Deletion AUC" in table
    fggb = results["FGGB"].maps["similarity"]
    assert f"{fggb.deletion_auc:.2f}" in table.split("| FGGB |")[1].splitlines()[0]
    score_table = results.table(kind="score")
    assert "similarity (genuine) Deletion score AUC ↓" in score_table
    # a faithful dissimilarity map raises an impostor's cosine when deleted: that column reads ↑
    assert "dissimilarity (impostor) Deletion score AUC ↑" in score_table
    assert "dissimilarity (impostor) Insertion score AUC ↓" in score_table
    assert doc["methods"]["FGGB"]["similarity"]["deletion_score_auc"] == pytest.approx(
        float(np.trapezoid(fggb.deletion_scores.mean(axis=0), np.linspace(0, 1, 21))))
    fig = results.plot()
    assert len(fig.axes) == 4 and len(fig.axes[0].lines) == 2
    merged = results.merge(Results.from_json(path))
    assert list(merged.methods) == ["FGGB", "Random"]


def test_first_equals_a_run_with_the_smaller_limit(region_pair, data) -> None:
    """A small --limit evaluates a prefix of a larger one: ``first`` re-derives it exactly."""
    game = DeletionInsertion(region_pair, model_name="region")
    methods = [cf.FGGB(region_pair), FixedMap(region_pair, region_mask().float(), "Oracle")]
    large = game.evaluate(methods, data, limit=6, include_random=False)
    small = game.evaluate(methods, data, limit=3, include_random=False)
    cut = large.first(3)
    assert strip_timing(cut.to_dict()) == strip_timing(small.to_dict())
    assert math.isnan(cut["FGGB"].seconds) and "| FGGB |" in cut.table() and "—" in cut.table()
    merged = cut.merge(small)  # same model, protocol and pairs: they merge
    assert set(merged.methods) == set(small.methods)
    with pytest.raises(InvalidInputError, match="more than these results hold"):
        large.first(7)
    with pytest.raises(InvalidInputError, match="limit must be a positive int"):
        large.first(0)


def test_bad_arguments(region_pair, data) -> None:
    with pytest.raises(TypeError, match="FaceVerificationPair"):
        DeletionInsertion(region_pair.embedder)
    with pytest.raises(InvalidInputError, match="side"):
        DeletionInsertion(region_pair, side="reference")
    with pytest.raises(InvalidInputError, match="limit"):
        DeletionInsertion(region_pair).evaluate([RandomMap(region_pair)], data, limit=0, include_random=False)
    other = FaceVerificationPair(RegionEmbedder())
    with pytest.raises(InvalidInputError, match="different FaceVerificationPair"):
        DeletionInsertion(region_pair).evaluate([cf.FGGB(other)], data, include_random=False)
