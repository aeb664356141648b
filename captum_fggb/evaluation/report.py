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
_COLUMNS = (("deletion_auc", "Deletion", "↓", min), ("insertion_auc", "Insertion", "↑", max))


def _maps(results: "Results") -> List[str]:
    present = {m for method in results.methods.values() for m in method.maps}
    return [m for m in _MAPS if m in present]


def table(results: "Results", *, digits: int = 2) -> str:
    """Markdown table: one row per method, Deletion and Insertion AUC (%) per map, wall seconds.

    The best value of each column is in bold (lowest Deletion, highest Insertion).

    Args:
        results: evaluation results.
        digits: decimals of the AUCs.

    Returns:
        The table, with a header line naming the model, threshold and pair counts.
    """
    maps = _maps(results)
    values: Dict[str, Dict[str, float]] = {}
    for name, method in results.methods.items():
        values[name] = {f"{m}.{key}": getattr(method.maps[m], key) for m in maps if m in method.maps
                        for key, *_ in _COLUMNS}
    best: Dict[str, float] = {}
    for m in maps:
        for key, _, _, pick in _COLUMNS:
            col = [v[f"{m}.{key}"] for v in values.values() if f"{m}.{key}" in v and not math.isnan(v[f"{m}.{key}"])]
            if col:
                best[f"{m}.{key}"] = pick(col)

    header = ["method"]
    for m in maps:
        subset = next(method.maps[m].subset for method in results.methods.values() if m in method.maps)
        header += [f"{m} ({subset}) {label} AUC {arrow}" for _, label, arrow, _ in _COLUMNS]
    header.append("seconds")
    lines = [
        f"Model `{results.model}`, threshold {results.threshold:g}, {results.n_genuine} genuine + "
        f"{results.n_impostor} impostor pairs; AUC of the accuracy curve in %.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for name, method in results.methods.items():
        cells = [name]
        for m in maps:
            for key, *_ in _COLUMNS:
                v = values[name].get(f"{m}.{key}")
                if v is None:
                    cells.append("—")
                    continue
                text = f"{v:.{digits}f}"
                cells.append(f"**{text}**" if f"{m}.{key}" in best and round(v, digits) == round(best[f"{m}.{key}"], digits) else text)
        cells.append(f"{method.seconds:.0f}")
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
            ax.set_title(f"{m} maps, {subset} pairs: {game.capitalize()} ({arrow} is better)")
            ax.set_xlabel("pixels " + ("removed" if game == "deletion" else "inserted") + " (%)")
            ax.set_ylabel("accuracy (%)" if kind == "accuracy" else "mean cosine score")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, title="method (AUC %)" if kind == "accuracy" else None, title_fontsize=7)
    fig.suptitle(f"{results.model}: {results.n_genuine} genuine / {results.n_impostor} impostor pairs, "
                 f"threshold {results.threshold:g}")
    return fig
