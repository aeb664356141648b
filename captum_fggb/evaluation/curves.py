"""Accuracy curves and their normalised trapezoid areas."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InvalidInputError

__all__ = ["correct", "accuracy_curve", "score_curve", "normalized_auc"]


def correct(scores: np.ndarray, same: np.ndarray, threshold: float) -> np.ndarray:
    """Which decisions are right: Accept (``score >= threshold``) for genuine pairs, Reject for
    impostors.

    Args:
        scores: ``(P, S)`` cosine scores of ``P`` pairs at ``S`` steps.
        same: ``(P,)`` bool, ``True`` for genuine pairs.
        threshold: the model's decision threshold.

    Returns:
        ``(P, S)`` bool.
    """
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    if scores.ndim != 2 or same.shape != scores.shape[:1]:
        raise InvalidInputError(
            f"scores must be (P, S) and same (P,), got {scores.shape} and {same.shape}"
        )
    return (scores >= threshold) == same[:, None]


def accuracy_curve(scores: np.ndarray, same: np.ndarray, threshold: float) -> np.ndarray:
    """``(S,)`` verification accuracy in % over the ``P`` pairs at each step (NaN if ``P = 0``)."""
    right = correct(scores, same, threshold)
    if right.shape[0] == 0:
        return np.full(right.shape[1], np.nan)
    return 100.0 * right.mean(axis=0)


def score_curve(scores: np.ndarray) -> np.ndarray:
    """``(S,)`` mean cosine score over the pairs at each step (NaN if there are no pairs)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[0] == 0:
        return np.full(scores.shape[1], np.nan)
    return scores.mean(axis=0)


def normalized_auc(curve: Sequence[float], fractions: Sequence[float]) -> float:
    """Trapezoid area under ``curve`` over ``fractions``, divided by the width of the axis.

    With ``curve`` in % the result is in % (100 = accuracy 100 % at every step). Deletion: lower
    is better; Insertion: higher is better.
    """
    y = np.asarray(curve, dtype=np.float64)
    x = np.asarray(fractions, dtype=np.float64)
    if y.shape != x.shape or x.ndim != 1 or x.size < 2:
        raise InvalidInputError(f"curve and fractions must be 1-D of the same length >= 2, got {y.shape} and {x.shape}")
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))
