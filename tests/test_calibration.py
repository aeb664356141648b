"""Thresholds from labelled pairs: hand-computed cases (ties, tie-breaks, degenerate inputs),
brute-force properties, and ``calibrate`` on a small synthetic dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from captum_fggb import FaceVerificationPair
from captum_fggb.calibration import (
    Calibration,
    best_accuracy_threshold,
    calibrate,
    eer_threshold,
    evaluate_threshold,
    score_pairs,
    threshold_at_far,
)
from captum_fggb.errors import InvalidInputError


# Impostors 0.1 and 0.4, genuine 0.35 and 0.8. Candidates (lowest score, midpoints, just above
# the highest) and rates (accept iff s >= t):
#   t = 0.1: FAR 1, FRR 0 | 0.225: FAR .5, FRR 0 | 0.375: FAR .5, FRR .5 | 0.6: FAR 0, FRR .5
#   t = nextafter(0.8): FAR 0, FRR 1
SCORES = [0.1, 0.4, 0.35, 0.8]
LABELS = [0, 0, 1, 1]


def test_evaluate_threshold_hand_computed() -> None:
    point = evaluate_threshold(SCORES, LABELS, 0.4)
    assert (point.far, point.frr, point.accuracy) == (0.5, 0.5, 0.5)
    assert (point.n_genuine, point.n_impostor) == (2, 2)
    point = evaluate_threshold(SCORES, LABELS, 0.35)  # a score equal to the threshold is accepted
    assert (point.far, point.frr, point.accuracy) == (0.5, 0.0, 0.75)
    point = evaluate_threshold(SCORES, LABELS, 0.9)
    assert (point.far, point.frr, point.accuracy) == (0.0, 1.0, 0.5)


def test_eer_threshold_hand_computed() -> None:
    assert eer_threshold(SCORES, LABELS) == pytest.approx(0.375)  # |FAR - FRR| = 0 only there


def test_best_accuracy_threshold_breaks_full_ties_towards_the_larger_threshold() -> None:
    # 0.225 and 0.6 both make one error with |FAR - FRR| = 0.5: the larger one wins.
    assert best_accuracy_threshold(SCORES, LABELS) == pytest.approx(0.6)
    assert evaluate_threshold(SCORES, LABELS, 0.6).accuracy == 0.75


def test_threshold_at_far_hand_computed() -> None:
    assert threshold_at_far(SCORES, LABELS, 0.0) == pytest.approx(0.6)
    assert threshold_at_far(SCORES, LABELS, 0.49) == pytest.approx(0.6)
    assert threshold_at_far(SCORES, LABELS, 0.5) == pytest.approx(0.225)
    assert threshold_at_far(SCORES, LABELS, 1.0) == 0.1  # the lowest score accepts everything


def test_tied_scores_share_one_decision() -> None:
    # Genuine 0.5 and 0.9; impostors 0.5, 0.5, 0.2. The three 0.5 scores cannot be split:
    #   t = 0.2: FAR 1, FRR 0 | 0.35: FAR 2/3, FRR 0 | 0.7: FAR 0, FRR 1/2 | above 0.9: FAR 0, FRR 1
    scores, labels = [0.5, 0.5, 0.5, 0.9, 0.2], [True, False, False, True, False]
    at_tie = evaluate_threshold(scores, labels, 0.5)
    assert at_tie.far == pytest.approx(2 / 3) and at_tie.frr == 0.0 and at_tie.accuracy == pytest.approx(0.6)
    assert eer_threshold(scores, labels) == pytest.approx(0.7)
    assert best_accuracy_threshold(scores, labels) == pytest.approx(0.7)
    assert threshold_at_far(scores, labels, 0.7) == pytest.approx(0.35)
    assert threshold_at_far(scores, labels, 0.6) == pytest.approx(0.7)
    assert evaluate_threshold(scores, labels, 0.7).accuracy == pytest.approx(0.8)


def test_eer_tie_break_prefers_smaller_total_error() -> None:
    # Impostors 0.1, 0.3; genuine 0.2. |FAR - FRR| = 0.5 at t = 0.15 (FAR .5, FRR 0) and at
    # t = 0.25 (FAR .5, FRR 1): the smaller FAR + FRR wins although 0.25 is larger.
    assert eer_threshold([0.1, 0.3, 0.2], [0, 0, 1]) == pytest.approx(0.15)


def test_midpoints_of_adjacent_floats_never_fall_on_the_lower_score() -> None:
    low = 0.5
    high = float(np.nextafter(low, 1.0))  # no float64 strictly between them
    threshold = eer_threshold([low, high], [0, 1])
    assert threshold == high
    point = evaluate_threshold([low, high], [0, 1], threshold)
    assert (point.far, point.frr) == (0.0, 0.0)


def test_reject_all_candidate_is_just_above_the_largest_score() -> None:
    # The largest score is an impostor's: FAR = 0 needs a threshold above it.
    threshold = threshold_at_far([0.2, 0.9, 0.5], [1, 0, 1], 0.0)
    assert threshold == np.nextafter(0.9, np.inf)
    assert evaluate_threshold([0.2, 0.9, 0.5], [1, 0, 1], threshold).frr == 1.0


def test_inputs_as_tensors_and_bools_give_the_same_threshold() -> None:
    t = eer_threshold(torch.tensor(SCORES, dtype=torch.float64), torch.tensor(LABELS, dtype=torch.bool))
    assert t == eer_threshold(np.array(SCORES), np.array(LABELS))


@pytest.mark.parametrize(
    "scores, labels, match",
    [
        ([0.1, 0.2], [1, 1], "only genuine"),
        ([0.1, 0.2], [False, False], "only impostor"),
        ([], [], "no pairs"),
        ([0.1, 0.2, 0.3], [0, 1], "same length"),
        ([[0.1, 0.2]], [[0, 1]], "1-D"),
        ([0.1, float("nan")], [0, 1], "NaN"),
        ([0.1, 0.2], [0, 2], "0/1"),
        (["a", "b"], [0, 1], "real numbers"),
    ],
)
def test_bad_inputs_raise_clear_errors(scores, labels, match) -> None:
    for function in (eer_threshold, best_accuracy_threshold):
        with pytest.raises(InvalidInputError, match=match):
            function(scores, labels)
    with pytest.raises(InvalidInputError, match=match):
        evaluate_threshold(scores, labels, 0.5)


@pytest.mark.parametrize("far", [-0.1, 1.5, True, "0.1", None])
def test_threshold_at_far_rejects_bad_far(far) -> None:
    with pytest.raises(InvalidInputError, match="far must be"):
        threshold_at_far(SCORES, LABELS, far)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6).map(lambda k: k / 6), st.booleans()), min_size=2, max_size=25
    ).filter(lambda rows: 0 < sum(y for _, y in rows) < len(rows)),
    st.floats(0, 1),
)
def test_thresholds_are_optimal_among_observed_scores(rows, far) -> None:
    """Brute force over every observed score (coarse grid: many ties)."""
    scores, labels = np.array([s for s, _ in rows]), np.array([y for _, y in rows])
    points = [evaluate_threshold(scores, labels, t) for t in np.unique(scores)]  # same rates as the candidates
    t_eer = eer_threshold(scores, labels)
    best_gap = min(abs(p.far - p.frr) for p in points)
    at_eer = evaluate_threshold(scores, labels, t_eer)
    assert abs(at_eer.far - at_eer.frr) <= best_gap + 1e-12
    t_acc = best_accuracy_threshold(scores, labels)
    assert evaluate_threshold(scores, labels, t_acc).accuracy >= max(p.accuracy for p in points) - 1e-12
    t_far = threshold_at_far(scores, labels, far)
    assert evaluate_threshold(scores, labels, t_far).far <= far
    assert all(p.far > far for p in points if p.threshold < t_far)


class _ListPairs(torch.utils.data.Dataset):
    def __init__(self, items) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _synthetic_pairs(n: int = 10) -> _ListPairs:
    """Genuine pairs: an image and a slightly noisy copy; impostors: two random images."""
    g = torch.Generator().manual_seed(7)
    items = []
    for i in range(n):
        a = torch.rand(3, 16, 16, generator=g)
        same = i % 2 == 0
        noisy = (a + 0.03 * torch.randn(3, 16, 16, generator=g)).clamp(0, 1)
        b = noisy if same else torch.rand(3, 16, 16, generator=g)
        items.append((a, b, torch.tensor(same)))
    return _ListPairs(items)


def test_calibrate_scores_every_pair_and_picks_the_eer_threshold(tiny_pair: FaceVerificationPair) -> None:
    data = _synthetic_pairs()
    embedder = tiny_pair.embedder
    embedder.train()
    embedder.conv1.weight.requires_grad_(True)
    result = calibrate(tiny_pair, data, batch_size=3, progress=True)
    assert isinstance(result, Calibration)
    with torch.no_grad():
        expected = torch.cat([tiny_pair(a[None], b[None]) for a, b, _ in data.items]).double().numpy()
    np.testing.assert_allclose(result.scores, expected, rtol=0, atol=1e-6)
    assert result.labels.tolist() == [i % 2 == 0 for i in range(10)]
    assert result.threshold == result.eer_threshold == eer_threshold(result.scores, result.labels)
    point = evaluate_threshold(result.scores, result.labels, result.threshold)
    assert (result.far, result.frr, result.accuracy) == (point.far, point.frr, point.accuracy)
    assert result.eer == pytest.approx((point.far + point.frr) / 2)
    assert result.criterion == "eer" and result.target_far is None and (result.n_genuine, result.n_impostor) == (5, 5)
    # the caller's pair and embedder are handed back unchanged
    assert tiny_pair.threshold == 0.2 and embedder.training and embedder.conv1.weight.requires_grad
    assert embedder.conv1.weight.grad is None


def test_calibrate_at_a_target_far(tiny_pair: FaceVerificationPair) -> None:
    data = _synthetic_pairs()
    result = calibrate(tiny_pair, data, far=0.0)
    assert result.far == 0.0 and result.target_far == 0.0 and result.criterion == "far"
    assert result.threshold == threshold_at_far(result.scores, result.labels, 0.0)
    scores, labels = score_pairs(tiny_pair, data, batch_size=10)
    np.testing.assert_allclose(scores, result.scores, rtol=0, atol=1e-6)  # batch size does not matter


def test_calibrate_best_accuracy_criterion(tiny_pair: FaceVerificationPair) -> None:
    result = calibrate(tiny_pair, _synthetic_pairs(), criterion="accuracy")
    assert result.criterion == "accuracy" and result.target_far is None
    assert result.threshold == best_accuracy_threshold(result.scores, result.labels)
    assert result.accuracy >= evaluate_threshold(result.scores, result.labels, result.eer_threshold).accuracy


def test_calibrate_rejects_bad_arguments_before_scoring(tiny_pair: FaceVerificationPair) -> None:
    with pytest.raises(InvalidInputError, match="far must be"):
        calibrate(tiny_pair, _synthetic_pairs(), far=2.0)
    with pytest.raises(InvalidInputError, match="criterion"):
        calibrate(tiny_pair, _synthetic_pairs(), criterion="auc")
    with pytest.raises(InvalidInputError, match="criterion"):
        calibrate(tiny_pair, _synthetic_pairs(), far=0.1, criterion="accuracy")
    with pytest.raises(InvalidInputError, match="batch_size"):
        calibrate(tiny_pair, _synthetic_pairs(), batch_size=0)
    with pytest.raises(InvalidInputError, match="empty"):
        calibrate(tiny_pair, _ListPairs([]))
    one_class = _ListPairs([item for item in _synthetic_pairs().items if bool(item[2])])
    with pytest.raises(InvalidInputError, match="only genuine"):
        calibrate(tiny_pair, one_class)
