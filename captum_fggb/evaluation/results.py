"""Results of the Deletion/Insertion game: per-pair scores, curves, AUCs, JSON round trip."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np

from ..errors import InvalidInputError
from .curves import accuracy_curve, normalized_auc, score_curve
from .pairs import PairRecord, select_pairs

__all__ = ["MapResult", "MethodResult", "Results", "TIMING_FIELDS", "strip_timing", "FORMAT"]

#: Identifies the JSON layout.
FORMAT = "captum-fggb/deletion-insertion/1"
#: Keys that hold wall-clock times or facts about the run (process count, device, versions):
#: the only fields allowed to differ between a single-process and a ``torchrun`` evaluation.
TIMING_FIELDS = ("seconds", "explain_seconds", "perturb_seconds", "run")


def strip_timing(data: Any) -> Any:
    """A copy of a results dict (from :meth:`Results.to_dict`) without the timing fields (:data:`~captum_fggb.evaluation.TIMING_FIELDS`)."""
    if isinstance(data, dict):
        return {k: strip_timing(v) for k, v in data.items() if k not in TIMING_FIELDS}
    if isinstance(data, list):
        return [strip_timing(v) for v in data]
    return data


@dataclass
class MapResult:
    """One method's map evaluated on one pair subset.

    Attributes:
        map: ``"similarity"`` or ``"dissimilarity"``.
        subset: ``"genuine"``, ``"impostor"`` or ``"all"``.
        threshold: decision threshold used for the accuracy.
        fractions: ``(S,)`` perturbed fraction of the pixels at each step, in ``[0, 1]``.
        pair_index: ``(P,)`` dataset indices of the evaluated pairs, in dataset order.
        same: ``(P,)`` bool labels (genuine = ``True``).
        deletion_scores: ``(P, S)`` cosine score of each pair at each Deletion step.
        insertion_scores: ``(P, S)`` cosine score at each Insertion step.
        seconds: wall-clock seconds of this evaluation (slowest process under ``torchrun``).
        explain_seconds: seconds spent computing the maps, summed over processes.
        perturb_seconds: seconds spent on perturbed forwards, summed over processes.
    """

    map: str
    subset: str
    threshold: float
    fractions: np.ndarray
    pair_index: np.ndarray
    same: np.ndarray
    deletion_scores: np.ndarray
    insertion_scores: np.ndarray
    seconds: float = 0.0
    explain_seconds: float = 0.0
    perturb_seconds: float = 0.0

    @property
    def n_pairs(self) -> int:
        return int(self.pair_index.shape[0])

    @property
    def deletion_curve(self) -> np.ndarray:
        """``(S,)`` accuracy in % at each Deletion step (lower is better)."""
        return accuracy_curve(self.deletion_scores, self.same, self.threshold)

    @property
    def insertion_curve(self) -> np.ndarray:
        """``(S,)`` accuracy in % at each Insertion step (higher is better)."""
        return accuracy_curve(self.insertion_scores, self.same, self.threshold)

    @property
    def deletion_auc(self) -> float:
        """Normalised area under :attr:`deletion_curve`, in % (lower is better)."""
        return normalized_auc(self.deletion_curve, self.fractions)

    @property
    def insertion_auc(self) -> float:
        """Normalised area under :attr:`insertion_curve`, in % (higher is better)."""
        return normalized_auc(self.insertion_curve, self.fractions)

    @property
    def deletion_score_auc(self) -> float:
        """Normalised area under the mean cosine score of the Deletion game (cosine units)."""
        return normalized_auc(score_curve(self.deletion_scores), self.fractions)

    @property
    def insertion_score_auc(self) -> float:
        """Normalised area under the mean cosine score of the Insertion game (cosine units)."""
        return normalized_auc(score_curve(self.insertion_scores), self.fractions)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready summary and per-pair arrays (the curves and AUCs are derived)."""
        return {
            "subset": self.subset,
            "n_pairs": self.n_pairs,
            "deletion_auc": self.deletion_auc,
            "insertion_auc": self.insertion_auc,
            "deletion_curve": self.deletion_curve.tolist(),
            "insertion_curve": self.insertion_curve.tolist(),
            "deletion_score_curve": score_curve(self.deletion_scores).tolist(),
            "insertion_score_curve": score_curve(self.insertion_scores).tolist(),
            "deletion_score_auc": self.deletion_score_auc,
            "insertion_score_auc": self.insertion_score_auc,
            "seconds": self.seconds,
            "explain_seconds": self.explain_seconds,
            "perturb_seconds": self.perturb_seconds,
            "pair_index": self.pair_index.tolist(),
            "deletion_scores": self.deletion_scores.tolist(),
            "insertion_scores": self.insertion_scores.tolist(),
        }

    @classmethod
    def from_dict(cls, map_name: str, data: Mapping[str, Any], threshold: float, fractions: np.ndarray,
                  labels: Mapping[int, bool]) -> "MapResult":
        index = np.asarray(data["pair_index"], dtype=np.int64)
        steps = fractions.shape[0]
        return cls(
            map=map_name,
            subset=data["subset"],
            threshold=threshold,
            fractions=fractions,
            pair_index=index,
            same=np.array([labels[int(i)] for i in index], dtype=bool),
            deletion_scores=np.asarray(data["deletion_scores"], dtype=np.float64).reshape(-1, steps),
            insertion_scores=np.asarray(data["insertion_scores"], dtype=np.float64).reshape(-1, steps),
            seconds=float(data.get("seconds", 0.0)),
            explain_seconds=float(data.get("explain_seconds", 0.0)),
            perturb_seconds=float(data.get("perturb_seconds", 0.0)),
        )


@dataclass
class MethodResult:
    """One explanation method: its options and a :class:`MapResult` per evaluated map."""

    name: str
    options: Dict[str, Any] = field(default_factory=dict)
    maps: Dict[str, MapResult] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Wall-clock seconds over all maps."""
        return float(sum(m.seconds for m in self.maps.values()))


@dataclass
class Results:
    """Everything one evaluation produced, for one model and one selection of pairs.

    Attributes:
        model: name of the face model.
        threshold: its decision threshold (cosine).
        protocol: :meth:`Protocol.to_dict` plus the dataset description and ``limit``.
        pairs: the selected pairs (``index``, ``a``, ``b``, ``same``) in dataset order.
        methods: results per method name, in evaluation order.
        run: facts about the run that may differ between runs (processes, device, versions,
            wall time); excluded from comparisons with :func:`strip_timing`.
    """

    model: str
    threshold: float
    protocol: Dict[str, Any]
    pairs: List[Dict[str, Any]]
    methods: Dict[str, MethodResult] = field(default_factory=dict)
    run: Dict[str, Any] = field(default_factory=dict)

    @property
    def n_genuine(self) -> int:
        return sum(1 for p in self.pairs if p["same"])

    @property
    def n_impostor(self) -> int:
        return sum(1 for p in self.pairs if not p["same"])

    def __getitem__(self, method: str) -> MethodResult:
        return self.methods[method]

    def to_dict(self) -> Dict[str, Any]:
        """The JSON document as a dict."""
        return {
            "format": FORMAT,
            "model": self.model,
            "threshold": self.threshold,
            "protocol": self.protocol,
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "methods": {
                name: {"options": method.options, **{m: r.to_dict() for m, r in method.maps.items()}}
                for name, method in self.methods.items()
            },
            "pairs": self.pairs,
            "run": self.run,
        }

    def to_json(self, path: Union[str, Path, None] = None, *, indent: Optional[int] = 1) -> str:
        """Serialise to JSON (and write it to ``path`` when given); returns the text."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=True)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, source: Union[str, Path]) -> "Results":
        """Read results written by :meth:`to_json`: a path or the JSON text itself."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            text = Path(source).read_text()
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise InvalidInputError(f"not a deletion/insertion results file (format {data.get('format')!r}, expected {FORMAT!r})")
        fractions = np.asarray(data["protocol"]["fractions_percent"], dtype=np.float64) / 100.0
        labels = {int(p["index"]): bool(p["same"]) for p in data["pairs"]}
        methods = {}
        for name, entry in data["methods"].items():
            maps = {m: MapResult.from_dict(m, v, data["threshold"], fractions, labels)
                    for m, v in entry.items() if m != "options"}
            methods[name] = MethodResult(name, dict(entry.get("options", {})), maps)
        return cls(data["model"], data["threshold"], data["protocol"], data["pairs"], methods, data.get("run", {}))

    def first(self, limit: int) -> "Results":
        """The same results on the first ``limit`` genuine and first ``limit`` impostor pairs.

        ``--limit`` selects pairs in dataset order, so a run with a small limit evaluates a prefix
        of a run with a larger one: this re-derives the curves and AUCs of that prefix from the
        per-pair scores, e.g. to :meth:`merge` a cheap method run on 150 + 150 pairs with an
        expensive one run on 50 + 50. Timings cannot be split per pair: they become ``nan``
        (shown as "—" in :meth:`table`).

        Args:
            limit: pairs per label to keep (positive int, at most the pairs evaluated).

        Returns:
            New :class:`Results` with ``protocol["limit"] = limit``.

        Raises:
            InvalidInputError: ``limit`` is not a positive int, or is larger than the number of
                genuine or impostor pairs these results hold.
        """
        kept = select_pairs([PairRecord(int(p["index"]), str(p["a"]), str(p["b"]), bool(p["same"])) for p in self.pairs], limit)
        if min(self.n_genuine, self.n_impostor) < limit:
            raise InvalidInputError(
                f"limit={limit} is more than these results hold ({self.n_genuine} genuine, "
                f"{self.n_impostor} impostor pairs)"
            )
        keep = {record.index for record in kept}
        methods = {}
        for name, method in self.methods.items():
            maps = {}
            for m, r in method.maps.items():
                rows = np.array([int(i) in keep for i in r.pair_index], dtype=bool)
                maps[m] = replace(r, pair_index=r.pair_index[rows], same=r.same[rows],
                                  deletion_scores=r.deletion_scores[rows], insertion_scores=r.insertion_scores[rows],
                                  seconds=math.nan, explain_seconds=math.nan, perturb_seconds=math.nan)
            methods[name] = MethodResult(name, dict(method.options), maps)
        protocol = {**self.protocol, "limit": limit}
        run = {**self.run, "selected": f"first {limit} genuine + {limit} impostor pairs of a larger run"}
        return Results(self.model, self.threshold, protocol, [p for p in self.pairs if int(p["index"]) in keep],
                       methods, run)

    def merge(self, other: "Results") -> "Results":
        """These results plus ``other``'s methods (``other`` wins on a name clash).

        Raises:
            InvalidInputError: the two were made with a different model, threshold, protocol or
                selection of pairs.
        """
        for key in ("model", "threshold", "protocol", "pairs"):
            if getattr(self, key) != getattr(other, key):
                raise InvalidInputError(f"cannot merge results with a different {key}")
        methods = dict(self.methods)
        methods.update(other.methods)
        run = dict(self.run)
        run.setdefault("merged", []).append(other.run)
        return Results(self.model, self.threshold, self.protocol, self.pairs, methods, run)

    def table(self, *, kind: str = "accuracy", digits: Optional[int] = None) -> str:
        """Markdown table: one row per method, Deletion and Insertion AUC per map, seconds.

        The best value of each column is in bold (lowest Deletion, highest Insertion).

        Args:
            kind: ``"accuracy"`` (area under the accuracy curves, %) or ``"score"`` (area under
                the mean cosine score curves, which still moves when the accuracy saturates).
            digits: decimals (default 2 for accuracy, 3 for score).

        Returns:
            The markdown text, with a first line naming the model, threshold and pair counts.
        """
        from .report import table

        return table(self, kind=kind, digits=digits)

    def plot(self, *, kind: str = "accuracy"):  # -> matplotlib.figure.Figure
        """Deletion and Insertion curves per method, one panel per (map, game).

        Args:
            kind: ``"accuracy"`` (verification accuracy in %) or ``"score"`` (mean cosine).

        Returns:
            A ``matplotlib.figure.Figure``, not registered with pyplot (save it with
            ``fig.savefig(path)``).
        """
        from .report import plot

        return plot(self, kind=kind)
