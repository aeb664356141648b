"""Markdown tables and matplotlib figures of Deletion/Insertion results."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Dict, List, Optional

import numpy as np
from matplotlib.figure import Figure

from ..errors import InvalidInputError
from .curves import score_curve

if TYPE_CHECKING:  # pragma: no cover
    from .results import Results

__all__ = ["table", "plot"]

_MAPS = ("similarity", "dissimilarity")
_COLUMNS = {
    "accuracy": (("deletion_auc", "Deletion", "↓", min), ("insertion_auc", "Insertion", "↑", max)),
    "score": (("deletion_score_auc", "Deletion", "↓", min), ("insertion_score_auc", "Insertion", "↑", max)),
}
_UNITS = {
    "accuracy": ("AUC", "AUC of the accuracy curve in %", 2),
    "score": ("score AUC", "area under the mean cosine score curve (cosine units)", 3),
}


def _columns(kind: str, map_name: str):
    """The columns of ``kind`` for one map. The cosine of a pair moves the other way for a
    dissimilarity map on impostor pairs: deleting its pixels should *raise* the score (towards a
    false Accept) and inserting them keep it low, so its score columns flip their direction."""
    if kind == "score" and map_name == "dissimilarity":
        return (("deletion_score_auc", "Deletion", "↑", max), ("insertion_score_auc", "Insertion", "↓", min))
    return _COLUMNS[kind]


def _maps(results: "Results") -> List[str]:
    present = {m for method in results.methods.values() for m in method.maps}
    return [m for m in _MAPS if m in present]


def table(results: "Results", *, kind: str = "accuracy", digits: Optional[int] = None) -> str:
    """Markdown table: one row per method, Deletion and Insertion AUC per map, wall seconds.

    The best value of each column is in bold: lowest Deletion and highest Insertion, except the
    score columns of dissimilarity maps, which read the other way (a faithful dissimilarity map
    raises an impostor pair's cosine when its pixels are deleted); the arrows say which.

    Args:
        results: evaluation results.
        kind: ``"accuracy"`` (AUC of the accuracy curves, %) or ``"score"`` (area under the
            mean cosine score curves, which still moves when the accuracy saturates).
        digits: decimals (default 2 for accuracy, 3 for score).

    Returns:
        The table, with a header line naming the model, threshold and pair counts.
    """
    if kind not in _COLUMNS:
        raise InvalidInputError(f"kind={kind!r} is not 'accuracy' or 'score'")
    unit, description, default_digits = _UNITS[kind]
    digits = default_digits if digits is None else digits
    maps = _maps(results)
    values: Dict[str, Dict[str, float]] = {}
    for name, method in results.methods.items():
        values[name] = {f"{m}.{key}": getattr(method.maps[m], key) for m in maps if m in method.maps
                        for key, *_ in _columns(kind, m)}
    best: Dict[str, float] = {}
    for m in maps:
        for key, _, _, pick in _columns(kind, m):
            col = [v[f"{m}.{key}"] for v in values.values() if f"{m}.{key}" in v and not math.isnan(v[f"{m}.{key}"])]
            if col:
                best[f"{m}.{key}"] = pick(col)

    header = ["method"]
    for m in maps:
        subset = next(method.maps[m].subset for method in results.methods.values() if m in method.maps)
        header += [f"{m} ({subset}) {label} {unit} {arrow}" for _, label, arrow, _ in _columns(kind, m)]
    header.append("seconds")
    lines = [
        f"Model `{results.model}`, threshold {results.threshold:g}, {results.n_genuine} genuine + "
        f"{results.n_impostor} impostor pairs; {description}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for name, method in results.methods.items():
        cells = [name]
        for m in maps:
            for key, *_ in _columns(kind, m):
                v = values[name].get(f"{m}.{key}")
                if v is None:
                    cells.append("—")
                    continue
                text = f"{v:.{digits}f}"
                cells.append(f"**{text}**" if f"{m}.{key}" in best and round(v, digits) == round(best[f"{m}.{key}"], digits) else text)
        cells.append("—" if math.isnan(method.seconds) else f"{method.seconds:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: "Results", *, kind: str = "accuracy", methods: Optional[List[str]] = None) -> Figure:
    """Deletion and Insertion curves per method, one panel per (map, game).

    Args:
        results: evaluation results.
        kind: ``"accuracy"`` (verification accuracy in %) or ``"score"`` (mean cosine score).
        methods: methods to draw (default: all, in evaluation order).

    Returns:
        A :class:`matplotlib.figure.Figure` (not registered with pyplot; save it with
        ``fig.savefig(path)``).
    """
    if kind not in ("accuracy", "score"):
        raise InvalidInputError(f"kind={kind!r} is not 'accuracy' or 'score'")
    names = list(results.methods) if methods is None else list(methods)
    for name in names:
        if name not in results.methods:
            raise InvalidInputError(f"method {name!r} is not in these results ({', '.join(results.methods)})")
    maps = _maps(results)
    fig = Figure(figsize=(10, 3.6 * max(len(maps), 1)), layout="constrained")
    axes = fig.subplots(max(len(maps), 1), 2, squeeze=False)
    fractions = np.asarray(results.protocol["fractions_percent"], dtype=float)
    for row, m in enumerate(maps):
        for col, game in enumerate(("deletion", "insertion")):
            ax = axes[row][col]
            for name in names:
                result = results.methods[name].maps.get(m)
                if result is None:
                    continue
                if kind == "accuracy":
                    y = getattr(result, f"{game}_curve")
                    label = f"{name} ({getattr(result, f'{game}_auc'):.1f})"
                else:
                    y = score_curve(getattr(result, f"{game}_scores"))
                    label = name
                style = dict(color="0.5", linestyle="--") if name == "Random" else {}
                ax.plot(fractions, y, label=label, **style)
            if kind == "score":
                ax.axhline(results.threshold, color="k", linewidth=0.6, linestyle=":")
            arrow = "lower" if game == "deletion" else "higher"
            subset = next((results.methods[n].maps[m].subset for n in names if m in results.methods[n].maps), "")
            ax.set_title(f"{game.capitalize()}, {m} maps on {subset} pairs\n({arrow} is better)", fontsize=9)
            if kind == "accuracy":
                ax.set_ylim(-3, 103)
            ax.set_xlabel("pixels " + ("removed" if game == "deletion" else "inserted") + " (%)")
            ax.set_ylabel("accuracy (%)" if kind == "accuracy" else "mean cosine score")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, title="method (AUC %)" if kind == "accuracy" else None, title_fontsize=7)
    fig.suptitle(f"{results.model}: {results.n_genuine} genuine / {results.n_impostor} impostor pairs, "
                 f"threshold {results.threshold:g}")
    return fig
