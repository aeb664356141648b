"""Region summary: which face regions carry an explanation's similarity and dissimilarity mass.

The first explanation a non-expert reads: ``"Accept: 41% of the similarity mass on the eyes,
22% on the nose, ..."``. The regions and their definitions are in
:func:`~captum_fggb.viz.face_regions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..errors import InvalidInputError
from .region_geometry import REGION_NAMES, FaceRegions, face_regions

__all__ = ["RegionSummary", "region_summary"]

MapLike = Union[torch.Tensor, np.ndarray]
KINDS: Tuple[str, ...] = ("similarity", "dissimilarity")


def _percent(share: float) -> str:
    value = round(100 * share)
    return "<1%" if value == 0 and share > 0 else f"{value}%"


def _where(region: str) -> str:
    return "outside the face" if region == "other" else f"on the {region}"


@dataclass(frozen=True)
class RegionSummary:
    """How the mass of an explanation splits over the face regions.

    Attributes:
        regions: region names, in display order.
        similarity: region → share of the similarity mass (positive part of the signed map); the
            shares sum to 1, or are all 0 when there is no similarity mass.
        dissimilarity: region → share of the dissimilarity mass (magnitude of the negative part).
        similarity_mass: total similarity mass, in the map's units summed over pixels, channels
            and faces.
        dissimilarity_mass: total dissimilarity mass, same units.
        area: region → share of the pixels (mean over the faces): the share a uniform map would
            give, for comparison.
        faces: number of face maps summarised.
        decision: ``"Accept"``, ``"Reject"`` or ``None`` (unknown).
    """

    regions: Tuple[str, ...]
    similarity: Dict[str, float]
    dissimilarity: Dict[str, float]
    similarity_mass: float
    dissimilarity_mass: float
    area: Dict[str, float]
    faces: int = 1
    decision: Optional[str] = None

    def shares(self, kind: str) -> Dict[str, float]:
        """The shares of ``kind`` (``"similarity"`` or ``"dissimilarity"``)."""
        if kind not in KINDS:
            raise InvalidInputError(f"kind must be 'similarity' or 'dissimilarity', got {kind!r}")
        return self.similarity if kind == "similarity" else self.dissimilarity

    def top(self, kind: str, k: int = 3) -> List[Tuple[str, float]]:
        """The ``k`` regions with the largest share of ``kind`` (zero shares left out), largest
        first; ties keep the display order."""
        shares = self.shares(kind)
        ranked = sorted((name for name in self.regions if shares[name] > 0),
                        key=lambda name: (-shares[name], self.regions.index(name)))
        return [(name, shares[name]) for name in ranked[:k]]

    def _phrase(self, kind: str, k: int) -> str:
        if (self.similarity_mass if kind == "similarity" else self.dissimilarity_mass) <= 0:
            return f"no {kind} mass (the {kind} map is zero)"
        shown = self.top(kind, k)
        parts = [f"{_percent(shown[0][1])} of the {kind} mass {_where(shown[0][0])}"]
        parts += [f"{_percent(share)} {_where(name)}" for name, share in shown[1:]]
        rest = 1.0 - sum(share for _, share in shown)
        if len(self.top(kind, len(self.regions))) > len(shown) and rest > 0:
            parts.append(f"{_percent(rest)} elsewhere")
        return ", ".join(parts)

    def sentence(self, top: int = 3) -> str:
        """One readable sentence.

        Accept decisions are explained by the similarity mass, Reject decisions by the
        dissimilarity mass; without a decision both are reported.

        Args:
            top: number of regions named before the remainder (``"... 22% elsewhere"``).

        Returns:
            e.g. ``"Accept: 41% of the similarity mass on the eyes, 22% on the nose, 15% on the
            mouth, 22% elsewhere."``
        """
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise InvalidInputError(f"top must be a positive int, got {top!r}")
        if self.decision == "Accept":
            return f"Accept: {self._phrase('similarity', top)}."
        if self.decision == "Reject":
            return f"Reject: {self._phrase('dissimilarity', top)}."
        text = f"{self._phrase('similarity', top)}; {self._phrase('dissimilarity', top)}."
        return text[0].upper() + text[1:]

    def __str__(self) -> str:
        return self.sentence()

    def to_dict(self) -> Dict[str, Any]:
        """Plain, JSON-serialisable dict of every field plus ``"sentence"``."""
        return {
            "decision": self.decision,
            "faces": self.faces,
            "similarity_mass": self.similarity_mass,
            "dissimilarity_mass": self.dissimilarity_mass,
            "regions": list(self.regions),
            "similarity": dict(self.similarity),
            "dissimilarity": dict(self.dissimilarity),
            "area": dict(self.area),
            "sentence": self.sentence(),
        }


def _plane(value: object, name: str) -> np.ndarray:
    """One face's map as an ``(H, W)`` float64 array (channels summed)."""
    if isinstance(value, torch.Tensor):
        array = value.detach().cpu().to(torch.float64).numpy()
        if array.ndim == 4:
            if array.shape[0] != 1:
                raise InvalidInputError(
                    f"{name} holds a batch of {array.shape[0]} maps; summarise one face at a time "
                    f"({name}[i]) or pass a tuple of faces"
                )
            array = array[0]
        if array.ndim == 3:
            array = array.sum(axis=0)
        layout = "(H, W), (C, H, W) or (1, C, H, W) tensor"
    elif isinstance(value, np.ndarray):
        array = np.asarray(value, dtype=np.float64)
        if array.ndim == 3:
            array = array.sum(axis=2)
        layout = "(H, W) or (H, W, C) numpy array"
    else:
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(value).__name__}")
    if array.ndim != 2:
        raise InvalidInputError(f"{name} must be an {layout}, got shape {tuple(np.shape(value))}")
    if not np.isfinite(array).all():
        raise InvalidInputError(f"{name} contains NaN or infinite values")
    return array


def _faces(value: object) -> List[object]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _decision(decision: object) -> Optional[str]:
    if decision is None:
        return None
    if isinstance(decision, torch.Tensor) and decision.numel() == 1 and decision.dtype == torch.bool:
        decision = bool(decision)
    if isinstance(decision, (bool, np.bool_)):
        return "Accept" if decision else "Reject"
    if isinstance(decision, str) and decision.lower() in ("accept", "reject"):
        return decision.capitalize()
    raise InvalidInputError(f"decision must be 'Accept', 'Reject', a bool or None, got {decision!r}")


def _regions_per_face(regions: object, landmarks: object, shapes: List[Tuple[int, int]]) -> List[FaceRegions]:
    count = len(shapes)
    if regions is not None:
        if landmarks is not None:
            raise InvalidInputError("pass landmarks= or regions=, not both")
        listed = _faces(regions)
        if len(listed) == 1:
            listed = listed * count
        if len(listed) != count or not all(isinstance(r, FaceRegions) for r in listed):
            raise InvalidInputError(f"regions must be one FaceRegions or one per face ({count})")
        return listed
    if landmarks is None:
        per_face: List[object] = [None] * count
    else:
        if isinstance(landmarks, torch.Tensor):
            landmarks = landmarks.detach().cpu().numpy()
        points = np.asarray(landmarks, dtype=np.float64)
        if points.ndim == 3 and points.shape[0] == count:
            per_face = list(points)
        else:
            per_face = [points] * count
    return [face_regions(shape, lm) for shape, lm in zip(shapes, per_face)]


def region_summary(
    attribution: Union[MapLike, Sequence[MapLike], None] = None,
    *,
    similarity: Union[MapLike, Sequence[MapLike], None] = None,
    dissimilarity: Union[MapLike, Sequence[MapLike], None] = None,
    landmarks: Optional[object] = None,
    regions: Union[FaceRegions, Sequence[FaceRegions], None] = None,
    decision: Union[str, bool, torch.Tensor, None] = None,
) -> RegionSummary:
    """Share of the similarity and dissimilarity mass of an explanation in each face region.

    Give either a signed map (positive supports Accept, negative supports Reject: FGGB's
    ``map="signed"``, or any Captum attribution of a pair) or the two non-negative maps. A map is
    one face: a torch tensor ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)``, or a numpy array
    ``(H, W)`` or ``(H, W, C)`` (Captum's visualisation layout). Channels are summed per pixel, as
    :func:`captum.attr.visualization.visualize_image_attr` does, before the sign split. A tuple of
    maps (e.g. ``fggb.attribute((probe, reference))``) is summarised over all its faces: each
    region's masses are added over the faces.

    Args:
        attribution: signed map, or a tuple of them (one per face).
        similarity: non-negative similarity map(s); with ``dissimilarity``, instead of
            ``attribution``.
        dissimilarity: non-negative dissimilarity map(s) (magnitudes).
        landmarks: ``(5, 2)`` ``(x, y)`` landmarks for every face, or ``(faces, 5, 2)``, in the
            order of :func:`~captum_fggb.viz.face_regions`. Default: the template of the crop size
            (112×112 ArcFace crops, 150×150 dlib chips).
        regions: precomputed :class:`~captum_fggb.viz.FaceRegions` (one, or one per face) instead
            of ``landmarks``.
        decision: the pair's decision, ``"Accept"``/``"Reject"``, a bool, or the one-element bool
            tensor of :meth:`FaceVerificationPair.decide <captum_fggb.FaceVerificationPair.decide>`.
            The sentence explains Accept by the similarity mass and Reject by the dissimilarity
            mass. Default: ``None`` (the sentence reports both).

    Returns:
        :class:`RegionSummary`: the shares per region, the total masses, the regions' area
        shares, ``.sentence()`` and ``.to_dict()``.

    Raises:
        TypeError: a map is neither a tensor nor a numpy array.
        InvalidInputError: maps missing or given twice, a batch of several faces in one tensor,
            a map whose size differs from its regions', NaN values, a negative
            similarity/dissimilarity map, or bad landmarks.

    Examples::

        >>> signed_a, signed_b = cf.FGGB(pair).attribute((probe, reference))
        >>> print(cf.viz.region_summary(signed_a, decision=pair.decide(probe, reference)))
        Accept: 33% of the similarity mass on the cheeks, 19% on the nose, ...
    """
    verdict = _decision(decision)
    if attribution is not None and (similarity is not None or dissimilarity is not None):
        raise InvalidInputError(
            "pass either a signed attribution map or similarity=/dissimilarity= maps, not both"
        )
    if attribution is None:
        if similarity is None or dissimilarity is None:
            raise InvalidInputError(
                "pass a signed attribution map, or both similarity= and dissimilarity= maps"
            )
        sims = [_plane(m, "similarity") for m in _faces(similarity)]
        dissims = [_plane(m, "dissimilarity") for m in _faces(dissimilarity)]
        if len(sims) != len(dissims):
            raise InvalidInputError(f"got {len(sims)} similarity maps but {len(dissims)} dissimilarity maps")
        for kind, planes in (("similarity", sims), ("dissimilarity", dissims)):
            if any(float(p.min()) < 0 for p in planes):
                raise InvalidInputError(
                    f"{kind} has negative values but must be a non-negative magnitude map; pass a "
                    "signed map as the first argument instead"
                )
    else:
        signed = [_plane(m, "attribution") for m in _faces(attribution)]
        sims = [np.clip(p, 0, None) for p in signed]
        dissims = [np.clip(-p, 0, None) for p in signed]
    for s, d in zip(sims, dissims):
        if s.shape != d.shape:
            raise InvalidInputError(f"similarity map {s.shape} and dissimilarity map {d.shape} differ in size")
    face_list = _regions_per_face(regions, landmarks, [s.shape for s in sims])

    names = REGION_NAMES
    masses = {kind: np.zeros(len(names)) for kind in KINDS}
    area = np.zeros(len(names))
    for s, d, r in zip(sims, dissims, face_list):
        if r.size != s.shape:
            raise InvalidInputError(
                f"the map is {s.shape[0]}x{s.shape[1]} but the regions are {r.size[0]}x{r.size[1]}; "
                "pass the regions (or landmarks) of this crop"
            )
        labels = r.labels.ravel().astype(np.intp)
        masses["similarity"] += np.bincount(labels, weights=s.ravel(), minlength=len(names))
        masses["dissimilarity"] += np.bincount(labels, weights=d.ravel(), minlength=len(names))
        area += np.bincount(labels, minlength=len(names)) / labels.size

    def shares(kind: str) -> Dict[str, float]:
        total = float(masses[kind].sum())
        return {n: (float(m) / total if total > 0 else 0.0) for n, m in zip(names, masses[kind])}

    return RegionSummary(
        regions=names,
        similarity=shares("similarity"),
        dissimilarity=shares("dissimilarity"),
        similarity_mass=float(masses["similarity"].sum()),
        dissimilarity_mass=float(masses["dissimilarity"].sum()),
        area={n: float(a) / len(face_list) for n, a in zip(names, area)},
        faces=len(face_list),
        decision=verdict,
    )
