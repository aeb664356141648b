"""Recompute the dlib ResNet's cosine threshold on LFW folds 1-2 and check SFace's at 0.363.

Usage::

    python benchmarks/calibrate_thresholds.py LFW_DIR [--folds 1 2] [--batch-size 32] [--progress]

``LFW_DIR`` holds ``pairs.txt`` and ``aligned/{dlib150,sface112}/<Name>/<Name>_<NNNN>.png`` (the
project's shared LFW slice). The dlib threshold is the best-accuracy threshold of the pooled
folds (:func:`captum_fggb.calibration.calibrate` with ``criterion="accuracy"``); rounded to four
decimals it is the value stored as ``captum_fggb.models.DLIB_RESNET_THRESHOLD``. The EER threshold
is printed for comparison. Cross-fold figures pick the threshold on one fold and apply it to the
other. When ``LFW_DIR/scores.csv`` exists (reference scores computed with
dlib and onnxruntime), the largest score difference to it is printed too.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np

from captum_fggb import FaceVerificationPair, models
from captum_fggb.calibration import (
    best_accuracy_threshold,
    calibrate,
    eer_threshold,
    evaluate_threshold,
    score_pairs,
)
from captum_fggb.data import LFWPairs


def _fmt(point) -> str:
    return f"threshold {point.threshold:.4f}: FAR {point.far:.4f}  FRR {point.frr:.4f}  accuracy {point.accuracy:.4f}"


def _reference(path: Path, column: str) -> Dict[Tuple[int, str, str], float]:
    def key(r: Dict[str, str]) -> Tuple[int, str, str]:
        return int(r["fold"]), f"{r['name_a']}_{int(r['num_a']):04d}", f"{r['name_b']}_{int(r['num_b']):04d}"

    with open(path, newline="") as handle:
        return {key(r): float(r[column]) for r in csv.DictReader(handle)}


def _compare(data: LFWPairs, scores: np.ndarray, reference: Path, column: str) -> str:
    ref = _reference(reference, column)
    keys = [(p.fold, p.path_a.stem, p.path_b.stem) for p in data.pairs]
    diff = np.abs(scores - np.array([ref[k] for k in keys]))
    return f"max |score - {reference.name}:{column}| over {len(keys)} pairs: {diff.max():.2e}"


def _cross_fold(scores: np.ndarray, labels: np.ndarray, folds: np.ndarray, choose) -> None:
    accs = []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        threshold = choose(scores[train], labels[train])
        point = evaluate_threshold(scores[test], labels[test], threshold)
        accs.append(point.accuracy)
        print(f"    fold {fold}, threshold from the other fold(s) {_fmt(point)}")
    print(f"    mean cross-fold accuracy {np.mean(accs):.4f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lfw_dir", type=Path, help="folder with pairs.txt and aligned/<crops>/")
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    args = parser.parse_args(argv)
    pairs_file, aligned, reference = args.lfw_dir / "pairs.txt", args.lfw_dir / "aligned", args.lfw_dir / "scores.csv"

    start = time.perf_counter()
    data = LFWPairs(aligned, pairs_file, folds=args.folds, crops="dlib150")
    print(f"LFW folds {data.folds}: {len(data)} pairs ({int(data.labels.sum())} genuine, "
          f"{int((~data.labels).sum())} impostor), {data.n_missing} skipped for a missing image, "
          f"{len(data.image_paths())} images")
    dlib = FaceVerificationPair(models.dlib_resnet())
    result = calibrate(dlib, data, criterion="accuracy", batch_size=args.batch_size, progress=args.progress)
    scores, labels = result.scores, result.labels
    folds = np.array([p.fold for p in data.pairs])
    print(f"\ndlib_resnet (cosine), scored in {time.perf_counter() - start:.1f} s")
    if reference.is_file():
        print("  " + _compare(data, scores, reference, "dlib_cosine"))
    print(f"  genuine mean {scores[labels].mean():.4f} min {scores[labels].min():.4f}; "
          f"impostor mean {scores[~labels].mean():.4f} max {scores[~labels].max():.4f}")
    print(f"  best-accuracy threshold (pooled)  {_fmt(result)}")
    print(f"  DLIB_RESNET_THRESHOLD = {result.threshold:.4f} (stored: {models.DLIB_RESNET_THRESHOLD})")
    stored = evaluate_threshold(scores, labels, models.DLIB_RESNET_THRESHOLD)
    print(f"  stored constant, pooled           {_fmt(stored)}")
    for fold in np.unique(folds):
        point = evaluate_threshold(scores[folds == fold], labels[folds == fold], models.DLIB_RESNET_THRESHOLD)
        print(f"    fold {fold} at the stored constant: {_fmt(point)}")
    eer = evaluate_threshold(scores, labels, result.eer_threshold)
    print(f"  EER threshold (pooled, for comparison) {_fmt(eer)}  EER {result.eer:.4f}")
    print("  cross-fold, best-accuracy threshold:")
    _cross_fold(scores, labels, folds, best_accuracy_threshold)
    print("  cross-fold, EER threshold:")
    _cross_fold(scores, labels, folds, eer_threshold)

    start = time.perf_counter()
    sdata = LFWPairs(aligned, pairs_file, folds=args.folds, crops="sface112")
    sface = FaceVerificationPair(models.sface())
    s_scores, s_labels = score_pairs(sface, sdata, batch_size=args.batch_size, progress=args.progress)
    s_folds = np.array([p.fold for p in sdata.pairs])
    print(f"\nsface (cosine), scored in {time.perf_counter() - start:.1f} s")
    if reference.is_file():
        print("  " + _compare(sdata, s_scores, reference, "sface_cosine"))
    point = evaluate_threshold(s_scores, s_labels, models.SFACE_THRESHOLD)
    print(f"  OpenCV threshold, pooled       {_fmt(point)}")
    for fold in np.unique(s_folds):
        point = evaluate_threshold(s_scores[s_folds == fold], s_labels[s_folds == fold], models.SFACE_THRESHOLD)
        print(f"    fold {fold}: {_fmt(point)}")
    s_best = evaluate_threshold(s_scores, s_labels, best_accuracy_threshold(s_scores, s_labels))
    print(f"  best-accuracy threshold (pooled, for comparison) {_fmt(s_best)}")
    s_eer = evaluate_threshold(s_scores, s_labels, eer_threshold(s_scores, s_labels))
    print(f"  EER threshold (pooled, for comparison) {_fmt(s_eer)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
