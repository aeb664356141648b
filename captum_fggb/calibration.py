r"""Decision thresholds for face verification, from labelled genuine and impostor pairs.

Conventions used by every function here (the same rule as
:meth:`captum_fggb.FaceVerificationPair.decide`):

* **Decision rule**: a pair is *accepted* iff ``score >= threshold``.
* **Labels**: ``True``/``1`` = genuine pair (same identity), ``False``/``0`` = impostor pair.
* **Rates** at a threshold :math:`t`, with :math:`G` genuine and :math:`I` impostor scores:
  :math:`\mathrm{FAR}(t) = |\{s \in I : s \ge t\}| / |I|` (impostors accepted),
  :math:`\mathrm{FRR}(t) = |\{s \in G : s < t\}| / |G|` (genuine pairs rejected),
  accuracy = share of correct decisions over all pairs.
* **Candidate thresholds**: with the distinct observed scores ``u_0 < u_1 < ... < u_m``, the
  candidates are ``u_0`` (accept everything), the midpoints ``(u_{i-1} + u_i) / 2`` (accept the
  pairs scoring ``u_i`` or more, with a margin on both sides) and the next float64 above ``u_m``
  (``numpy.nextafter(u_m, inf)``, reject everything). No candidate lies between equal scores, so
  **tied scores always get the same decision**: a tie between a genuine and an impostor pair
  cannot be split, whatever the criterion.
* Scores and thresholds are compared in float64.

Typical use::

    >>> from captum_fggb import FaceVerificationPair, models, calibration, data
    >>> pair = FaceVerificationPair(models.dlib_resnet())
    >>> lfw = data.LFWPairs("lfw/aligned", "lfw/pairs.txt", folds=[1, 2], crops="dlib150")
    >>> result = calibration.calibrate(pair, lfw, progress=True)
    >>> result.threshold, result.far, result.frr
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .errors import InvalidInputError
from .pair import FaceVerificationPair

__all__ = [
    "OperatingPoint",
    "Calibration",
    "evaluate_threshold",
    "eer_threshold",
    "threshold_at_far",
    "best_accuracy_threshold",
    "score_pairs",
    "calibrate",
]

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[float]]

_CRITERIA = ("eer", "accuracy", "far")


@dataclass(frozen=True)
class OperatingPoint:
    """Error rates of the rule ``accept iff score >= threshold`` on labelled pairs.

    Attributes:
        threshold: the decision threshold.
        far: false accept rate, impostor pairs accepted / impostor pairs.
        frr: false reject rate, genuine pairs rejected / genuine pairs.
        accuracy: correct decisions / all pairs.
        n_genuine: number of genuine pairs.
        n_impostor: number of impostor pairs.
    """

    threshold: float
    far: float
    frr: float
    accuracy: float
    n_genuine: int
    n_impostor: int


@dataclass(frozen=True)
class Calibration(OperatingPoint):
    """Result of :func:`calibrate`: the chosen threshold and its rates on the calibration pairs.

    Attributes:
        criterion: how ``threshold`` was chosen: ``"eer"``, ``"accuracy"`` or ``"far"``.
        target_far: the FAR asked for with ``criterion="far"``, else ``None``.
        eer: equal error rate, ``(FAR + FRR) / 2`` at the :func:`eer_threshold`.
        eer_threshold: the EER threshold (equals ``threshold`` with ``criterion="eer"``).
        scores: ``(N,)`` float64 cosine scores of the pairs, in dataset order.
        labels: ``(N,)`` bool labels (``True`` = genuine), in dataset order.
    """

    criterion: str = "eer"
    target_far: Optional[float] = None
    eer: float = 0.0
    eer_threshold: float = 0.0
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False, compare=False)


def _as_numpy(values: ArrayLike, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    try:
        return np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a 1-D array of numbers, got {type(values).__name__}") from exc


def _check(scores: ArrayLike, labels: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    """Validate and convert to (float64 scores, bool labels); both classes must be present."""
    s, y = _as_numpy(scores, "scores"), _as_numpy(labels, "labels")
    if s.ndim != 1 or y.ndim != 1 or s.shape != y.shape:
        raise InvalidInputError(
            f"scores and labels must be 1-D arrays of the same length, got shapes {s.shape} and {y.shape}"
        )
    if not np.issubdtype(s.dtype, np.number) or np.issubdtype(s.dtype, np.complexfloating):
        raise InvalidInputError(f"scores must be real numbers, got dtype {s.dtype}")
    s = s.astype(np.float64)
    if not np.isfinite(s).all():
        bad = np.flatnonzero(~np.isfinite(s))[:5].tolist()
        raise InvalidInputError(f"scores contain NaN or infinite values (indices {bad})")
    if y.dtype != bool:
        if not np.issubdtype(y.dtype, np.number) or not np.isin(y, (0, 1)).all():
            raise InvalidInputError("labels must be bool or 0/1 (1 = genuine pair, 0 = impostor pair)")
        y = y.astype(bool)
    n_gen = int(y.sum())
    if n_gen == 0 or n_gen == y.size:
        kind = "no pairs" if y.size == 0 else ("only genuine" if n_gen else "only impostor")
        raise InvalidInputError(
            f"labels contain {kind} pairs; thresholds need both genuine (1) and impostor (0) pairs"
        )
    return s, y


def _curves(s: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(candidate thresholds ascending, FAR, FRR) over all candidates."""
    u = np.unique(s)
    mid = u[:-1] + (u[1:] - u[:-1]) / 2.0
    mid = np.where(mid > u[:-1], mid, u[1:])  # adjacent floats: the midpoint may round down
    thresholds = np.concatenate(([u[0]], mid, [np.nextafter(u[-1], np.inf)]))
    gen, imp = np.sort(s[y]), np.sort(s[~y])
    frr = np.searchsorted(gen, thresholds, side="left") / gen.size  # genuine with s < t
    far = (imp.size - np.searchsorted(imp, thresholds, side="left")) / imp.size  # impostors with s >= t
    return thresholds, far, frr


def _check_far(far: object) -> float:
    if isinstance(far, bool) or not isinstance(far, (int, float, np.floating)) or not 0.0 <= float(far) <= 1.0:
        raise InvalidInputError(f"far must be a number in [0, 1] (e.g. 0.001 for 0.1 %), got {far!r}")
    return float(far)


def evaluate_threshold(scores: ArrayLike, labels: ArrayLike, threshold: float) -> OperatingPoint:
    """FAR, FRR and accuracy of ``accept iff score >= threshold``.

    Args:
        scores: ``(N,)`` similarity scores (higher = more similar).
        labels: ``(N,)`` bool or 0/1, ``True`` = genuine pair.
        threshold: the decision threshold.

    Returns:
        :class:`OperatingPoint`.

    Raises:
        InvalidInputError: mismatched or non-1-D inputs, non-finite scores, labels not 0/1, or
            only one class present.
    """
    s, y = _check(scores, labels)
    t = float(threshold)
    if not np.isfinite(t):
        raise InvalidInputError(f"threshold must be a finite number, got {threshold!r}")
    accept = s >= t
    return OperatingPoint(
        threshold=t,
        far=float(accept[~y].mean()),
        frr=float((~accept[y]).mean()),
        accuracy=float((accept == y).mean()),
        n_genuine=int(y.sum()),
        n_impostor=int((~y).sum()),
    )


def eer_threshold(scores: ArrayLike, labels: ArrayLike) -> float:
    """The equal-error-rate threshold: the candidate that minimises ``|FAR - FRR|``.

    Among candidates with the same ``|FAR - FRR|``, the one with the smallest ``FAR + FRR`` wins,
    then the largest threshold (fewer false accepts). The EER itself is ``(FAR + FRR) / 2`` there
    (see :func:`evaluate_threshold`).

    Args:
        scores: ``(N,)`` similarity scores.
        labels: ``(N,)`` bool or 0/1, ``True`` = genuine pair.

    Returns:
        The threshold (a candidate, see the module docstring).

    Raises:
        InvalidInputError: see :func:`evaluate_threshold`.
    """
    thresholds, far, frr = _curves(*_check(scores, labels))
    # lexsort: last key is primary; negated thresholds prefer the largest on full ties.
    order = np.lexsort((-thresholds, far + frr, np.abs(far - frr)))
    return float(thresholds[order[0]])


def threshold_at_far(scores: ArrayLike, labels: ArrayLike, far: float) -> float:
    """The smallest candidate threshold whose FAR is at most ``far`` (lowest FRR under that FAR).

    Args:
        scores: ``(N,)`` similarity scores.
        labels: ``(N,)`` bool or 0/1, ``True`` = genuine pair.
        far: the largest acceptable false accept rate, in ``[0, 1]``. FAR moves in steps of
            ``1 / n_impostor``, so the achieved FAR can be below it.

    Returns:
        The threshold.

    Raises:
        InvalidInputError: ``far`` outside ``[0, 1]``, or see :func:`evaluate_threshold`.
    """
    target = _check_far(far)
    thresholds, rates, _ = _curves(*_check(scores, labels))
    return float(thresholds[np.flatnonzero(rates <= target)[0]])  # FAR is non-increasing in t


def best_accuracy_threshold(scores: ArrayLike, labels: ArrayLike) -> float:
    """The candidate threshold with the highest accuracy (LFW's protocol on its training folds);
    among equally accurate ones, the one with the smallest ``|FAR - FRR|``, then the largest.

    Raises:
        InvalidInputError: see :func:`evaluate_threshold`.
    """
    s, y = _check(scores, labels)
    thresholds, far, frr = _curves(s, y)
    errors = far * (~y).sum() + frr * y.sum()
    order = np.lexsort((-thresholds, np.abs(far - frr), np.round(errors)))
    return float(thresholds[order[0]])


@torch.inference_mode()
def score_pairs(
    pair: FaceVerificationPair,
    dataset: Dataset,
    *,
    batch_size: int = 32,
    progress: bool = False,
) -> Tuple[np.ndarray, np.ndarray]:
    """Cosine score of every pair of a dataset.

    Args:
        pair: the verification model.
        dataset: map-style dataset of ``(image_a, image_b, same)``, images ``(3, H, W)`` in
            ``[0, 1]`` at the embedder's input size (e.g. :class:`captum_fggb.data.LFWPairs`).
        batch_size: pairs per forward pass (``2 * batch_size`` images).
        progress: show a tqdm progress bar.

    Returns:
        ``(scores, labels)``: ``(N,)`` float64 scores and ``(N,)`` bool labels, in dataset order.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise InvalidInputError("dataset is empty; calibration needs genuine and impostor pairs")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    scores, labels = [], []
    for a, b, same in tqdm(loader, desc="scoring pairs", unit="batch", disable=not progress):
        scores.append(pair(a, b).double().cpu().numpy())
        labels.append(np.asarray(same, dtype=bool).reshape(-1))
    return np.concatenate(scores), np.concatenate(labels)


def calibrate(
    pair: FaceVerificationPair,
    dataset: Dataset,
    far: Optional[float] = None,
    *,
    criterion: Optional[str] = None,
    batch_size: int = 32,
    progress: bool = False,
) -> Calibration:
    """Score a dataset of labelled pairs and choose a decision threshold for ``pair``.

    Args:
        pair: the verification model (its current threshold is ignored and left unchanged).
        dataset: map-style dataset of ``(image_a, image_b, same)`` (see :func:`score_pairs`).
        far: the largest acceptable false accept rate (:func:`threshold_at_far`); implies
            ``criterion="far"``.
        criterion: without ``far``: ``"eer"`` (default, :func:`eer_threshold`) or ``"accuracy"``
            (:func:`best_accuracy_threshold`).
        batch_size: pairs per forward pass.
        progress: show a tqdm progress bar.

    Returns:
        :class:`Calibration` with the threshold, its FAR/FRR/accuracy on these pairs, the EER,
        and the scores and labels. Apply it with ``FaceVerificationPair(embedder,
        threshold=result.threshold)``.

    Raises:
        InvalidInputError: empty dataset, a single class of pairs, a bad ``far``/``batch_size``,
            an unknown ``criterion``, or ``criterion`` other than ``"far"`` together with ``far``.
    """
    target = None if far is None else _check_far(far)
    if criterion is None:
        criterion = "eer" if target is None else "far"
    if criterion not in _CRITERIA or (criterion == "far") != (target is not None):
        raise InvalidInputError(
            f"criterion must be 'eer' or 'accuracy' without far=, or 'far' (or None) with far=; "
            f"got criterion={criterion!r}, far={far!r}"
        )
    scores, labels = score_pairs(pair, dataset, batch_size=batch_size, progress=progress)
    t_eer = eer_threshold(scores, labels)
    at_eer = evaluate_threshold(scores, labels, t_eer)
    if criterion == "far":
        threshold = threshold_at_far(scores, labels, target)  # type: ignore[arg-type]
    else:
        threshold = t_eer if criterion == "eer" else best_accuracy_threshold(scores, labels)
    point = evaluate_threshold(scores, labels, threshold)
    return Calibration(
        **vars(point),
        criterion=criterion,
        target_far=target,
        eer=(at_eer.far + at_eer.frr) / 2.0,
        eer_threshold=t_eer,
        scores=scores,
        labels=labels,
    )
