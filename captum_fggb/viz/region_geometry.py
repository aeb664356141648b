r"""Named face regions from 5 landmarks (the geometry of the region summary).

:func:`~captum_fggb.viz.face_regions` splits an aligned face crop into eight regions that partition the image:
``eyes``, ``eyebrows``, ``nose``, ``mouth``, ``cheeks``, ``forehead``, ``chin`` and ``other``
(everything outside the face outline: hair, ears, neck, background, black padding).
:func:`captum_fggb.viz.region_summary` reports how an explanation's mass splits over them.

The definitions are in the docstring of :func:`~captum_fggb.viz.face_regions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from ..align import ARCFACE_TEMPLATE
from ..errors import InvalidInputError

__all__ = [
    "REGION_NAMES",
    "TEMPLATE_LANDMARKS",
    "FaceRegions",
    "face_regions",
]

#: The regions, in display order (``other`` = outside the face outline).
REGION_NAMES: Tuple[str, ...] = ("eyes", "eyebrows", "nose", "mouth", "cheeks", "forehead", "chin", "other")

#: Default ``(x, y)`` pixel landmarks per crop size ``(H, W)``, in the ArcFace order: right eye,
#: left eye, nose tip, right mouth corner, left mouth corner. 112×112: insightface's ArcFace
#: template. 150×150: dlib's mean face shape (eye centres = mean of the 6 eye points, nose tip =
#: point 30, mouth corners = points 48 and 54) placed as ``get_face_chip(size=150, padding=0.25)``
#: places it: ``(0.25 + p) / 1.5 * 150``.
TEMPLATE_LANDMARKS: Dict[Tuple[int, int], np.ndarray] = {
    (112, 112): ARCFACE_TEMPLATE.astype(np.float64),
    (150, 150): np.array(
        [[47.5492, 46.5990], [100.4761, 46.5990], [74.0127, 76.5625], [50.4149, 103.0233], [97.6104, 103.0233]]
    ),
}

# Sizes in inter-ocular distances (see the module docstring).
_EYE_HALF_WIDTH, _EYE_HALF_HEIGHT = 0.30, 0.16
_BROW_HALF_WIDTH, _BROW_TOP = 0.33, 0.45
_BRIDGE_HALF_WIDTH, _NOSE_HALF_WIDTH, _NOSE_BELOW_TIP = 0.20, 0.30, 0.15
_MOUTH_MARGIN, _MOUTH_ABOVE, _MOUTH_BELOW = 0.10, 0.20, 0.22
_FACE_HALF_WIDTH, _FACE_TOP, _FACE_BELOW_MOUTH = 1.05, 1.10, 0.70
_FAR = 10.0  # "to infinity" for the band regions, which are clipped to the face outline


@dataclass(frozen=True)
class FaceRegions:
    """A partition of a face crop into named regions.

    Attributes:
        labels: ``(H, W)`` int array; ``labels[y, x]`` indexes :attr:`names`.
        names: region names (:data:`~captum_fggb.viz.REGION_NAMES`).
        landmarks: ``(5, 2)`` float ``(x, y)`` landmarks the regions were built from.
    """

    labels: np.ndarray
    names: Tuple[str, ...]
    landmarks: np.ndarray

    @property
    def size(self) -> Tuple[int, int]:
        """``(H, W)`` of the crop."""
        return int(self.labels.shape[0]), int(self.labels.shape[1])

    def mask(self, name: str) -> np.ndarray:
        """``(H, W)`` bool mask of one region."""
        if name not in self.names:
            raise InvalidInputError(f"unknown region {name!r}; regions: {', '.join(self.names)}")
        return self.labels == self.names.index(name)

    def masks(self) -> Dict[str, np.ndarray]:
        """Every region's ``(H, W)`` bool mask, in :attr:`names` order."""
        return {name: self.labels == index for index, name in enumerate(self.names)}

    def area_fractions(self) -> Dict[str, float]:
        """Share of the image's pixels in each region (sums to 1)."""
        counts = np.bincount(self.labels.ravel(), minlength=len(self.names))
        return {name: float(c) / self.labels.size for name, c in zip(self.names, counts)}


def _check_size(size: object) -> Tuple[int, int]:
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size)
    ):
        raise InvalidInputError(f"size must be (H, W), two positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def _check_landmarks(landmarks: object, size: Tuple[int, int]) -> np.ndarray:
    if landmarks is None:
        if size not in TEMPLATE_LANDMARKS:
            known = ", ".join(f"{h}x{w}" for h, w in TEMPLATE_LANDMARKS)
            raise InvalidInputError(
                f"no default landmarks for a {size[0]}x{size[1]} crop (defaults exist for {known}); "
                "pass landmarks=(5, 2) (x, y) pixels: right eye, left eye, nose tip, right and left "
                "mouth corner"
            )
        return TEMPLATE_LANDMARKS[size].copy()
    if isinstance(landmarks, torch.Tensor):
        landmarks = landmarks.detach().cpu().numpy()
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2):
        raise InvalidInputError(
            f"landmarks must have shape (5, 2) ((x, y) of right eye, left eye, nose tip, right and "
            f"left mouth corner), got {points.shape}"
        )
    if not np.isfinite(points).all():
        raise InvalidInputError("landmarks contain NaN or infinite values")
    height, width = size
    inside_x = (points[:, 0] >= 0) & (points[:, 0] <= width - 1)
    outside = ~(inside_x & (points[:, 1] >= 0) & (points[:, 1] <= height - 1))
    if outside.any():
        raise InvalidInputError(
            f"landmark {tuple(np.round(points[outside][0], 1))} lies outside the {height}x{width} image "
            "(H x W); landmarks are (x, y) pixel coordinates in this crop (for a numpy map, is it "
            "(H, W, C) and not (C, H, W)?)"
        )
    return points


def _frame(points: np.ndarray) -> Tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Eye midpoint, inter-ocular distance, unit axes u (eye line) and v (towards the mouth)."""
    origin = (points[0] + points[1]) / 2
    distance = float(np.linalg.norm(points[1] - points[0]))
    if distance < 1.0:
        raise InvalidInputError(
            f"the eye landmarks are {distance:.2g} px apart; the first two landmarks must be the "
            "right and left eye centres of a face at least a few pixels wide"
        )
    u = (points[1] - points[0]) / distance
    v = np.array([-u[1], u[0]])
    local = (points - origin) @ np.stack([u, v], axis=1) / distance
    if not (local[2, 1] > 0 and local[3, 1] > local[2, 1] and local[4, 1] > local[2, 1]):
        raise InvalidInputError(
            "the landmarks are not in the expected order: (x, y) of the right eye (left in the "
            "image), left eye, nose tip, right mouth corner, left mouth corner, with the nose "
            "below the eyes and the mouth below the nose; check for swapped eyes or (y, x) order"
        )
    return origin, distance, u, v


def _polygons(local: np.ndarray) -> Dict[str, List[np.ndarray]]:
    """Region polygons in face-frame coordinates (units of the inter-ocular distance)."""
    (nose_a, nose_b), right_mouth, left_mouth = local[2], local[3], local[4]
    mouth_bottom = float((right_mouth[1] + left_mouth[1]) / 2 + _MOUTH_BELOW)
    nose_bottom = nose_b + _NOSE_BELOW_TIP
    top, bottom = -_FACE_TOP, mouth_bottom - _MOUTH_BELOW + _FACE_BELOW_MOUTH
    t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    centre, half_height = (top + bottom) / 2, (bottom - top) / 2
    outline = np.stack([_FACE_HALF_WIDTH * np.cos(t), centre + half_height * np.sin(t)], axis=1)

    def box(a0: float, a1: float, b0: float, b1: float) -> np.ndarray:
        return np.array([[a0, b0], [a1, b0], [a1, b1], [a0, b1]])

    eh, ew, bw = _EYE_HALF_HEIGHT, _EYE_HALF_WIDTH, _BROW_HALF_WIDTH
    return {
        "outline": [outline],
        "forehead": [box(-_FAR, _FAR, -_FAR, -eh)],
        "cheeks": [box(-_FAR, _FAR, -eh, mouth_bottom)],
        "chin": [box(-_FAR, _FAR, mouth_bottom, _FAR)],
        "nose": [np.array([
            [-_BRIDGE_HALF_WIDTH, -eh], [_BRIDGE_HALF_WIDTH, -eh], [_BRIDGE_HALF_WIDTH, eh],
            [nose_a + _NOSE_HALF_WIDTH, nose_b], [nose_a + _NOSE_HALF_WIDTH, nose_bottom],
            [nose_a - _NOSE_HALF_WIDTH, nose_bottom], [nose_a - _NOSE_HALF_WIDTH, nose_b],
            [-_BRIDGE_HALF_WIDTH, eh],
        ])],
        "mouth": [np.array([
            [right_mouth[0] - _MOUTH_MARGIN, right_mouth[1] - _MOUTH_ABOVE],
            [nose_a - _NOSE_HALF_WIDTH, nose_bottom], [nose_a + _NOSE_HALF_WIDTH, nose_bottom],
            [left_mouth[0] + _MOUTH_MARGIN, left_mouth[1] - _MOUTH_ABOVE],
            [left_mouth[0] + _MOUTH_MARGIN, left_mouth[1] + _MOUTH_BELOW],
            [right_mouth[0] - _MOUTH_MARGIN, right_mouth[1] + _MOUTH_BELOW],
        ])],
        "eyebrows": [box(e - bw, e + bw, -_BROW_TOP, -eh) for e in (-0.5, 0.5)],
        "eyes": [box(e - ew, e + ew, -eh, eh) for e in (-0.5, 0.5)],
    }


def face_regions(size: Sequence[int] = (112, 112), landmarks: Optional[object] = None) -> FaceRegions:
    r"""Partition a face crop into the regions :data:`~captum_fggb.viz.REGION_NAMES`.

    **Geometry.** The regions are built from the 5 landmarks in the ArcFace order (right eye
    centre, left eye centre, nose tip, right mouth corner, left mouth corner; "right" is the
    person's right, the left side of the image), in a face frame: origin at the midpoint of the
    eyes, unit length the inter-ocular distance :math:`d`, :math:`a` along the eye line towards
    the left eye, :math:`b` perpendicular to it towards the mouth. All sizes below are in units
    of :math:`d`; they follow average adult face proportions and were checked by eye on the
    shipped samples and the project's test faces (figure in the user guide). The regions rotate
    and scale with the landmarks.

    ============  ==================================================================================
    region        definition (drawn in this order; later regions win where they overlap)
    ============  ==================================================================================
    face outline  ellipse centred on the eye line's perpendicular through the eye midpoint, half
                  width 1.05, from 1.10 above the eye line to 0.70 below the mouth corners
    forehead      face outline above the top of the eye boxes (:math:`b < -0.16`)
    cheeks        face outline between the top of the eye boxes and the bottom of the mouth box
    chin          face outline below the bottom of the mouth box (chin and jaw line)
    nose          polygon: the bridge between the eye boxes (:math:`|a| \le 0.20`), widening to the
                  nose tip :math:`\pm 0.30`, down to 0.15 below the tip
    mouth         hexagon: 0.10 beyond each mouth corner, from 0.22 below the corners up to 0.20
                  above them and to the bottom of the nose in the middle (lips and philtrum)
    eyebrows      two boxes over the eye boxes, eye centre :math:`\pm 0.33`, from 0.16 to 0.45 above
                  the eye line
    eyes          two boxes, eye centre :math:`\pm 0.30` along and :math:`\pm 0.16` across the
                  eye line
    other         everything outside the face outline
    ============  ==================================================================================

    Every region except ``other`` is clipped to the face outline, so the eight masks partition
    the image. Default landmarks exist for the package's two crop layouts
    (:data:`~captum_fggb.viz.TEMPLATE_LANDMARKS`): the ArcFace template of 112×112 crops and, for
    dlib's 150×150 face chips (``get_face_chip(..., padding=0.25)``), the positions of the same
    five points on dlib's mean face shape, to which those chips are aligned. For any other crop
    pass its landmarks.

    Args:
        size: ``(H, W)`` of the crop in pixels. Default: ``(112, 112)`` (ArcFace crops).
        landmarks: ``(5, 2)`` ``(x, y)`` pixel coordinates (numpy array, nested list or tensor)
            of the right eye, left eye, nose tip, right and left mouth corner ("right" = the
            person's right). Default: :data:`~captum_fggb.viz.TEMPLATE_LANDMARKS` for 112×112
            and 150×150 crops.

    Returns:
        :class:`FaceRegions` whose masks partition the image.

    Raises:
        InvalidInputError: bad ``size``, landmarks of the wrong shape or order, or no default
            landmarks for this size.
    """
    size = _check_size(size)
    points = _check_landmarks(landmarks, size)
    origin, distance, u, v = _frame(points)
    local = (points - origin) @ np.stack([u, v], axis=1) / distance
    to_image = np.stack([u, v], axis=0) * distance  # (a, b) -> a*d*u + b*d*v
    height, width = size

    def raster(polygons: List[np.ndarray]) -> np.ndarray:
        canvas = np.zeros((height, width), dtype=np.uint8)
        fixed = [np.round((origin + p @ to_image) * 16).astype(np.int32) for p in polygons]
        cv2.fillPoly(canvas, fixed, 1, lineType=cv2.LINE_8, shift=4)
        return canvas.astype(bool)

    polygons = _polygons(local)
    face = raster(polygons.pop("outline"))
    labels = np.full((height, width), REGION_NAMES.index("other"), dtype=np.int8)
    for name in ("forehead", "cheeks", "chin", "nose", "mouth", "eyebrows", "eyes"):
        labels[raster(polygons[name]) & face] = REGION_NAMES.index(name)
    return FaceRegions(labels=labels, names=REGION_NAMES, landmarks=points)
